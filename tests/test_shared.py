"""Several workers of one deployment: jobs and rate limits shared through the index folder."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_utils import ADMIN_KEY, LiveServer, assert_envelope, wait_job, wait_ready

from api.jobs import Job
from api.main import create_app
from api.shared import SHARED_FILE, JobStore, RateLimiter, SharedState, client_address
from assistant.index.store import Index
from assistant.ingest.pipeline import build_document, index_document
from assistant.settings import get_settings
from assistant.text.analyzer import Analyzer

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two apps, as two uvicorn workers would be, over one index folder (lexical only)."""
    settings = get_settings(
        index_dir=tmp_path / "index",
        upload_dir=tmp_path / "uploads",
        corpus_dir=tmp_path / "corpus",
        embedder="none",
        api_key=ADMIN_KEY,
        rate_limit_per_minute=3,
        trusted_proxies=["127.0.0.1"],
    )
    with ExitStack() as stack:
        urls = []
        for _ in range(2):  # one after the other: chromadb's client cache is not thread-safe
            urls.append(stack.enter_context(LiveServer(create_app(settings))))
            wait_ready(urls[-1])
        yield urls[0], urls[1]


def test_a_job_created_on_one_worker_is_polled_on_another(two_workers: tuple[str, str]) -> None:
    first, second = two_workers
    with httpx.Client(base_url=first, timeout=60) as a, httpx.Client(base_url=second) as b:
        r = a.post(
            "/api/documents",
            files={
                "file": ("通知.txt", "关于示范的通知\n\n第一条 示范用地每亩补助五万元。".encode())
            },
            headers=ADMIN,
        )
        assert r.status_code == 202, r.text
        job = wait_job(b, r.json()["id"], ADMIN)
        assert job["status"] == "done" and job["document_id"]
        assert any(j["id"] == job["id"] for j in b.get("/api/jobs", headers=ADMIN).json()["jobs"])
        assert_envelope(b.get("/api/jobs/no-such-job", headers=ADMIN), 404)


def test_the_rate_limit_counts_requests_on_every_worker(two_workers: tuple[str, str]) -> None:
    first, second = two_workers
    body = {"query": "补助"}
    client = {"X-Forwarded-For": "203.0.113.7"}
    other = {"X-Forwarded-For": "203.0.113.8"}
    with httpx.Client(base_url=first) as a, httpx.Client(base_url=second) as b:
        assert a.post("/api/search", json=body, headers=client).status_code == 200
        assert b.post("/api/search", json=body, headers=client).status_code == 200
        assert a.post("/api/search", json=body, headers=client).status_code == 200
        refused = b.post("/api/search", json=body, headers=client)
        assert_envelope(refused, 429)
        assert int(refused.headers["Retry-After"]) >= 1
        # Behind the proxy, another client has its own count.
        assert b.post("/api/search", json=body, headers=other).status_code == 200


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    assert client_address("10.0.0.5", "203.0.113.7", []) == "10.0.0.5"
    assert client_address("10.0.0.5", "203.0.113.7", ["10.0.0.0/8"]) == "203.0.113.7"
    # A client cannot pick its own address by sending the header through the proxy.
    assert client_address("10.0.0.5", "1.2.3.4, 203.0.113.7", ["10.0.0.0/8"]) == "203.0.113.7"
    assert client_address("10.0.0.5", "203.0.113.7, 10.0.0.9", ["10.0.0.0/8"]) == "203.0.113.7"
    assert client_address("198.51.100.1", "203.0.113.7", ["10.0.0.0/8"]) == "198.51.100.1"
    assert client_address("10.0.0.5", "garbage", ["10.0.0.0/8"]) == "garbage"


def test_a_job_left_running_by_a_dead_worker_is_marked_failed(tmp_path: Path) -> None:
    state = SharedState(tmp_path / SHARED_FILE)
    store = JobStore(state)
    # A worker process that has exited: its pid no longer runs.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)  # fmt: skip
    job = Job(id="j1", kind="upload", status="running")
    store.owner = f"{store.owner.rpartition(':')[0]}:{dead.stdout.strip()}"
    store.add(job)
    mine = Job(id="j2", kind="upload", status="running")
    JobStore(state).add(mine)  # owned by this live process
    after = JobStore(state)
    assert after.get("j1").status == "failed" and "stopped" in (after.get("j1").error or "")
    assert after.get("j2").status == "running"
    assert [j.id for j in after.list()] == ["j2", "j1"]


def test_rate_counts_survive_a_new_limiter_and_old_hits_expire(tmp_path: Path) -> None:
    state = SharedState(tmp_path / SHARED_FILE)
    assert [RateLimiter(state, 2).check("a") for _ in range(2)] == [None, None]
    assert RateLimiter(state, 2).check("a") is not None
    with state.connect() as db:
        db.execute("UPDATE hits SET at = at - 61")
    assert RateLimiter(state, 2).check("a") is None


class CommitThen:
    """A store collection whose next upsert, once done, lets another worker run first."""

    def __init__(self, inner: Any, then: Callable[[], Any]) -> None:
        self.inner, self.then = inner, then

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert(self, **kwargs: Any) -> Any:
        out = self.inner.upsert(**kwargs)
        then, self.then = self.then, lambda: None
        then()
        return out


def test_two_workers_writing_one_document_at_once_leave_the_last_one_whole(
    tmp_path: Path,
) -> None:
    """Worker A commits its version; before A tidies up, worker B writes and commits another.
    The last committed version must keep every one of its chunks (it used to lose them all)."""
    settings = get_settings(index_dir=tmp_path / "ix", embedder="none", ocr=False)
    analyse = Analyzer(settings.userdict_path).tokenize
    a, b = Index(settings, "none", analyse), Index(settings, "none", analyse)
    rule = "# 示范条例\n\n第一条 {}宅基地每户面积不得超过{}平方米。\n\n第二条 {}申请人应当提交身份证明。\n"
    old = build_document(rule.format("旧版", "一百二十", "旧版").encode(), "示范条例.md", settings)
    new = build_document(rule.format("新版", "八十", "新版").encode(), "示范条例.md", settings)
    assert old.id == new.id and old.content_hash != new.content_hash
    real = a._docs
    a._docs = CommitThen(real, lambda: index_document(new, b, None, settings))
    index_document(old, a, None, settings)
    a._docs = real
    for index in (a, b):
        index.refresh(force=True)
        record = index.record(new.id)
        assert record is not None and record.content_hash == new.content_hash
        texts = [c.text for c in index.snapshot.chunks if c.document_id == new.id]
        assert len(texts) == record.chunks >= 1, texts
        assert all("新版" in t for t in texts) and not any("旧版" in t for t in texts)
    # B replaced A's committed version, so B removed A's chunks: nothing is left behind.
    assert a.collect_garbage() == 0


class ReadThen:
    """A store collection whose `nth` read of one document's record lets another worker run first."""

    def __init__(self, inner: Any, doc_id: str, nth: int, then: Callable[[], Any]) -> None:
        self.inner, self.doc_id, self.nth, self.then = inner, doc_id, nth, then

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, **kwargs: Any) -> Any:
        out = self.inner.get(**kwargs)
        if kwargs.get("ids") == [self.doc_id]:
            self.nth -= 1
            if self.nth == 0:
                self.then()
        return out


def chunk_versions(index: Index, doc_id: str) -> set[str]:
    """The versions of a document that still have chunk rows in the store."""
    return {
        str(m["hash"])
        for collection in (index._chunks, index._pending)
        for m in collection.get(where={"doc_id": doc_id}, include=["metadatas"])["metadatas"]
    }


def test_a_lost_race_leaves_chunks_that_a_worker_collects_after_the_grace_period(
    tmp_path: Path,
) -> None:
    """Workers A and B both read the old record, B commits, then A: A's version wins whole, and
    B's chunks belong to no version. They are kept while a writer might still be committing them
    (younger than garbage_grace_seconds), then the worker that saw the change deletes them."""
    settings = get_settings(
        index_dir=tmp_path / "ix", embedder="none", ocr=False, garbage_grace_seconds=0.5
    )
    analyse = Analyzer(settings.userdict_path).tokenize
    a, b = Index(settings, "none", analyse), Index(settings, "none", analyse)
    rule = "# 示范条例\n\n第一条 {}宅基地每户面积不得超过{}平方米。\n"
    first = build_document(rule.format("初版", "一百五十").encode(), "示范条例.md", settings)
    index_document(first, a, None, settings)
    ours = build_document(rule.format("甲版", "一百二十").encode(), "示范条例.md", settings)
    theirs = build_document(rule.format("乙版", "八十").encode(), "示范条例.md", settings)
    real = a._docs
    # A reads the record twice: "is it unchanged?", then the version its write replaces.
    a._docs = ReadThen(real, ours.id, 2, lambda: index_document(theirs, b, None, settings))
    index_document(ours, a, None, settings)  # A reads the first record, B commits, A commits last
    a._docs = real
    assert a.record(ours.id).content_hash == ours.content_hash  # type: ignore[union-attr]
    assert chunk_versions(a, ours.id) == {ours.content_hash, theirs.content_hash}
    assert a.collect_garbage([ours.id], older_than=3600) == 0  # too young: kept
    a.refresh(force=True)
    assert a._garbage.scheduled  # the change was seen: a sweep is due after the grace period
    deadline = time.monotonic() + 10
    while chunk_versions(a, ours.id) != {ours.content_hash} and time.monotonic() < deadline:
        time.sleep(0.2)
        a.refresh()
    assert chunk_versions(a, ours.id) == {ours.content_hash}
    assert [c.text for c in a.snapshot.chunks if "甲版" in c.text]
    assert not [c.text for c in a.snapshot.chunks if "乙版" in c.text]
