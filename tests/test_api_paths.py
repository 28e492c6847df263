"""Path tricks over HTTP never reach the API key, the upload folder or the index (issue 5/5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_utils import serve_shared, wait_ready

SECRET = "admin-secret-do-not-leak"


@pytest.mark.slow
def test_traversal_attempts_are_refused_and_leak_nothing(
    seed_assistant: Any, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "secret-upload.txt").write_text("上传的内部文件", encoding="utf-8")
    (tmp_path / ".env").write_text(f"PA_API_KEY={SECRET}\n", encoding="utf-8")
    with serve_shared(seed_assistant, tmp_path, api_key=SECRET) as url:
        wait_ready(url)
        attempts = [
            "/static/../../assistant/settings.py",
            "/static/..%2F..%2Fassistant%2Fsettings.py",
            "/static/%2e%2e/%2e%2e/pyproject.toml",
            "/static//etc/passwd",
            "/static/../../../../etc/passwd",
            f"/static/{tmp_path}/.env",
            "/api/documents/..%2F..%2F.env",
            "/api/documents/../../index",
            "/uploads/secret-upload.txt",
            "/index/chroma/chroma.sqlite3",
            "/api/jobs/..%2F..%2Fuploads",
            "/.env",
        ]
        with httpx.Client(base_url=url, timeout=30) as client:
            for path in attempts:
                r = client.get(path)
                assert r.status_code in (400, 401, 403, 404, 405, 422), (path, r.status_code)
                body = r.text
                assert SECRET not in body and "上传的内部文件" not in body, path
                assert (
                    "root:x:" not in body and "[project]" not in body and "BaseSettings" not in body
                ), path
                if r.headers.get("content-type", "").startswith("application/json"):
                    assert r.json()["ok"] is False
            # the settings the server runs with are never echoed
            for path in ("/readyz", "/api/page-config", "/openapi.json"):
                assert SECRET not in client.get(path).text, path
