"""Shared fixtures: every path under tmp_path, and one session-scoped index over the seed corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.text.analyzer import Analyzer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
QA_PATH = REPO / "bench" / "data" / "seed_qa.jsonl"
SHARED = REPO.parent / "shared"
EXTERNAL = SHARED / "external"
# The text analyser of the shipped dictionary, for tests of pure text functions (one jieba load).
ANALYZER = Analyzer(REPO / "assistant" / "data" / "userdict.txt")


def external(*parts: str) -> Path:
    """A path under ../shared/external, skipping the test cleanly when it is absent."""
    path = EXTERNAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is not laid out here)")
    return path


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test ever touches the repo's index/ or uploads: settings read from the environment point at tmp_path."""
    monkeypatch.setenv("PA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("PA_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("PA_CORPUS_DIR", str(tmp_path / "corpus"))
    return tmp_path


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index over corpus/ (the seed newsletter), built once per session with the default embedder."""
    from assistant.service import Assistant
    from assistant.settings import get_settings

    path = tmp_path_factory.mktemp("seed-index")
    bot = Assistant(get_settings(index_dir=path, upload_dir=path / "uploads"))
    report = bot.ingest([CORPUS])
    assert not report.failed, report.failed
    return path


@pytest.fixture(scope="session")
def seed_assistant(seed_index_dir: Path) -> Iterator[object]:
    """A read-only Assistant over the session's seed index."""
    from assistant.service import Assistant
    from assistant.settings import get_settings

    yield Assistant(get_settings(index_dir=seed_index_dir, upload_dir=seed_index_dir / "uploads"))


@pytest.fixture(scope="session")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One real `chroma run` for the session (tests keep apart by collection name)."""
    from server_utils import chroma_server

    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as port:
        yield port
