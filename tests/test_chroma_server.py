"""Several workers sharing one real `chroma run` server (chroma_mode=http; the server is the
session's `chroma_port` fixture).

What one worker ingests, the others find and answer from identically once they refresh; a
delete is seen by all. Both as two `Assistant`s in this process and as two uvicorn API processes
fed by the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from server_utils import eventually, free_port, stop

from assistant.ingest.pipeline import document_id
from assistant.service import Assistant
from assistant.settings import get_settings
from tests.conftest import REPO

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
LAW = (
    "中华人民共和国测试土地法\n第一章 总则\n"
    "第一条 宅基地使用权人依法对集体所有的土地享有占有和使用的权利，有权依法利用该土地建造住宅及其附属设施。\n"
    "第二条 建设用地使用权可以在土地的地表、地上或者地下分别设立。\n"
    "第二章 耕地保护\n第三条 国家实行占用耕地补偿制度。非农业建设经批准占用耕地的，按照占多少、垦多少的原则补充耕地。\n"
)
NOTICE = (
    "关于做好二手房带押过户工作的通知\n一、办理流程\n"
    "（一）买卖双方共同申请转移登记和抵押权变更登记，无需先还清原贷款。\n"
    "（二）银行在登记完成后发放新的贷款，资金直接划转至原贷款银行。\n"
)
QUERIES = [
    "宅基地使用权",
    "占用耕地怎么补偿",
    "房子还有贷款没还清能直接卖吗",
    "建设用地使用权可以设在地下吗",
]
T = TypeVar("T")


def http_settings(port: int, folder: Path, collection: str) -> dict[str, str]:
    return {
        "PA_CHROMA_MODE": "http",
        "PA_CHROMA_HOST": "127.0.0.1",
        "PA_CHROMA_PORT": str(port),
        "PA_COLLECTION": collection,
        "PA_INDEX_DIR": str(folder),  # only the worker's lexical token cache lives here
        "PA_REFRESH_SECONDS": "0.2",
    }


@pytest.fixture
def workers(chroma_port: int, tmp_path: Path) -> Iterator[Callable[[str], Assistant]]:
    """`workers(name)`: an Assistant on the shared server (one collection per test); closed at the end."""
    collection = f"t{uuid.uuid4().hex[:8]}"
    made: list[Assistant] = []

    def make(name: str) -> Assistant:
        settings = get_settings(
            chroma_mode="http",
            chroma_port=chroma_port,
            index_dir=tmp_path / name,
            collection=collection,
            refresh_seconds=0.2,
        )
        made.append(Assistant(settings))
        return made[-1]

    yield make
    for bot in made:
        close(bot)


def close(bot: Assistant) -> None:
    """Release the Chroma client; Client.close() leaves its HTTP sessions open (chromadb 1.5)."""
    client = bot.index._client
    owners = [client, getattr(client, "_admin_client", None)]
    sessions = [getattr(getattr(o, "_server", None), "_session", None) for o in owners]
    with bot.index._refresh_lock:  # a background refresh may be mid-request
        client.close()
        for session in sessions:
            if session is not None:
                session.close()


def hits_of(bot: Assistant, query: str) -> list[tuple[str, float]]:
    return [(h.chunk.id, round(h.score, 6)) for h in bot.search(query)]


def answer_of(bot: Assistant, question: str) -> tuple[str, list[tuple[str, str]], bool]:
    a = bot.ask(question)
    return a.text, [(c.chunk_id, c.quote) for c in a.citations], a.abstained


def test_two_workers_share_one_chroma_server(
    workers: Callable[[str], Assistant], tmp_path: Path
) -> None:
    a, b = workers("a"), workers("b")
    assert a.documents() == b.documents() == []

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "law.txt").write_text(LAW, encoding="utf-8")
    (docs / "notice.txt").write_text(NOTICE, encoding="utf-8")
    report = a.ingest([docs])
    assert sorted(report.added) == ["law.txt", "notice.txt"] and not report.failed

    # B never ingested anything: it learns of both documents from the server at its next refresh.
    eventually(lambda: len(b.documents()) == 2, what="worker B sees the documents")
    assert b.documents() == a.documents()
    assert [c.id for c in b.index.snapshot.chunks] == [c.id for c in a.index.snapshot.chunks]
    for q in QUERIES:
        assert hits_of(b, q) == hits_of(a, q), q
        assert hits_of(b, q), q
    assert "宅基地" in b.search("宅基地使用权")[0].chunk.text
    assert b.search("房子还有贷款没还清能直接卖吗")[0].chunk.document_id == document_id(
        "notice.txt"
    )
    for q in QUERIES[1:3]:
        assert answer_of(b, q) == answer_of(a, q), q

    # A delete through B disappears from A too.
    b.delete(document_id("notice.txt"))
    eventually(lambda: len(a.documents()) == 1, what="worker A sees the delete")
    assert all(h.chunk.document_id == document_id("law.txt") for h in a.search("带押过户 贷款"))
    assert hits_of(a, "宅基地使用权") == hits_of(b, "宅基地使用权")


def test_two_api_worker_processes_and_a_cli_ingest(chroma_port: int, tmp_path: Path) -> None:
    if not (REPO / "api" / "routes" / "search.py").exists():
        pytest.skip("no /api/search route yet")
    collection = f"t{uuid.uuid4().hex[:8]}"
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for name in ("w1", "w2"):
            port = free_port()
            env = {**os.environ, **http_settings(chroma_port, tmp_path / name, collection)}
            env["PA_UPLOAD_DIR"] = str(tmp_path / name / "uploads")
            log = (tmp_path / f"{name}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "api.main:app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
            urls.append(f"http://127.0.0.1:{port}")

        def ready(url: str) -> dict[str, Any] | None:
            try:
                r = httpx.get(f"{url}/readyz", timeout=5)
            except httpx.HTTPError:
                return None
            return r.json() if r.status_code == 200 else None

        for url, proc in zip(urls, procs, strict=True):
            eventually(lambda u=url, p=proc: p.poll() is None and ready(u), 90, f"{url} ready")  # type: ignore[misc]

        # An operator ingests with the CLI against the same server; neither worker is told.
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "law.txt").write_text(LAW, encoding="utf-8")
        env = {**os.environ, **http_settings(chroma_port, tmp_path / "cli", collection)}
        result = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "ingest", str(docs), "--quiet"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0 and "1 added" in result.stdout, result.stdout + result.stderr

        def search(url: str, query: str) -> list[tuple[str, int, float]]:
            r = httpx.post(f"{url}/api/search", json={"query": query, "top_k": 5}, timeout=30)
            assert r.status_code == 200, r.text
            return [
                (h["source"]["document_id"], h["source"]["start"], round(h["score"], 6))
                for h in r.json()["hits"]
            ]

        for url in urls:
            eventually(
                lambda u=url: search(u, "宅基地使用权"), 20, f"{url} finds the CLI's document"
            )  # type: ignore[misc]
        for q in QUERIES:
            assert search(urls[0], q) == search(urls[1], q), q
        assert search(urls[0], "宅基地使用权")[0][0] == document_id("law.txt")

        # A second document, added while both workers are serving, reaches both.
        (docs / "notice.txt").write_text(NOTICE, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "ingest", str(docs), "--quiet"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "1 added" in result.stdout and "1 unchanged" in result.stdout, (
            result.stdout + result.stderr
        )
        notice_id = document_id("notice.txt")
        for url in urls:
            eventually(
                lambda u=url: (search(u, "带押过户 转移登记") or [("", 0, 0.0)])[0][0] == notice_id,  # type: ignore[misc]
                20,
                f"{url} finds the second document",
            )
        assert search(urls[0], "带押过户 转移登记") == search(urls[1], "带押过户 转移登记")
        assert all(p.poll() is None for p in procs), "a worker died"
    finally:
        for proc in procs:
            stop(proc)


def test_server_and_embedded_give_the_same_passages(
    workers: Callable[[str], Assistant], tmp_path: Path
) -> None:
    """The same documents give the same passages whether Chroma is embedded or a server."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "law.txt").write_text(LAW, encoding="utf-8")
    (docs / "notice.txt").write_text(NOTICE, encoding="utf-8")
    served = workers("served")
    embedded = Assistant(get_settings(index_dir=tmp_path / "embedded"))
    try:
        served.ingest([docs])
        embedded.ingest([docs])
        for q in QUERIES:
            assert [h.chunk.id for h in served.search(q)] == [
                h.chunk.id for h in embedded.search(q)
            ], q
    finally:
        close(embedded)
