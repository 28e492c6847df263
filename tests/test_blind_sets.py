"""The blind question sets hold what tuning and judging rely on: tune and test never share a
document, and every evidence string and key fact is in the document as the product reads it."""

from __future__ import annotations

import importlib.util
import json
import types
from collections import Counter

import pytest

from tests.conftest import CORPUS, EXTERNAL, REPO

BLIND = REPO / "bench" / "data" / "blind"


def _blind_module() -> types.ModuleType:
    """bench/blind.py, which assembled and verified the sets (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location("blind", REPO / "bench" / "blind.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


blind = _blind_module()


def _rows(name: str) -> list[dict]:
    return [json.loads(x) for x in (BLIND / f"{name}.jsonl").read_text("utf-8").splitlines() if x]


def test_tune_and_test_share_no_document_and_follow_the_recorded_split() -> None:
    sides = json.loads((BLIND / "split.json").read_text("utf-8"))
    seen: dict[str, set[str]] = {"tune": set(), "test": set()}
    for side in seen:
        for row in _rows(side):
            groups = blind.groups_of(row)
            assert all(sides[g] == side for g in groups), row["id"]
            seen[side].update(groups)
    assert not seen["tune"] & seen["test"]
    ids = [r["id"] for side in seen for r in _rows(side)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("side", ["tune", "test"])
def test_each_split_has_near_misses_and_paraphrased_questions(side: str) -> None:
    rows = _rows(side)
    kinds = Counter(r["type"] for r in rows)
    assert kinds["uncovered"] >= 0.25 * len(rows)
    assert sum(bool(r.get("colloquial")) for r in rows) >= len(rows) / 3
    for r in rows:
        if r["type"] == "uncovered":
            assert not r["evidence"] and not r["must_include"], r["id"]
            continue
        q = blind.norm(r["question"])
        # Questions paraphrase: none copies ten characters of its evidence.
        for e in map(blind.norm, r["evidence"]):
            assert not any(e[i : i + 10] in q for i in range(len(e) - 9)), r["id"]


def test_every_evidence_string_and_key_fact_is_in_its_document() -> None:
    """Read each document as ingest reads it (parse and clean, no index), then check every row."""
    from assistant.ingest.pipeline import build_document
    from assistant.settings import get_settings

    if not (EXTERNAL / "policy_docs").exists():
        pytest.skip("../shared/external is not laid out here")
    settings = get_settings(ocr=False)
    files = [p for p in (EXTERNAL / "policy_docs").rglob("*") if p.is_file()]
    files += [p for p in CORPUS.iterdir() if p.suffix == ".txt"]
    texts = {
        p.name: blind.norm(build_document(p.read_bytes(), p.name, settings).text) for p in files
    }
    failures = [
        (r["id"], why)
        for side in ("tune", "test")
        for r in _rows(side)
        if (why := blind.verify(r, texts))
    ]
    assert not failures
