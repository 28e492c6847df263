"""Real uvicorn servers on free loopback ports, and helpers to talk to them (for tests/test_api*.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from api.main import create_app
from assistant.settings import Settings, get_settings

ADMIN_KEY = "admin-test-key-0123456789"
BIN = Path(sys.executable).parent
T = TypeVar("T")


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings with every path under `tmp`, plus overrides."""
    base: dict[str, Any] = {
        "index_dir": tmp / "index",
        "upload_dir": tmp / "uploads",
        "corpus_dir": tmp / "corpus",
    }
    return get_settings(**{**base, **overrides})


def serve_shared(assistant: Any, tmp: Path, **overrides: Any) -> LiveServer:
    """A server over an already loaded Assistant (no index load: starts in milliseconds)."""
    app = create_app(make_settings(tmp, **overrides), assistant_factory=lambda s: assistant)
    return LiveServer(app)


class LiveServer:
    """`with LiveServer(app) as url:` serves `app` with uvicorn in a thread on 127.0.0.1:<free port>.

    `port` picks the port instead, so a stopped server can come back at the same URL.
    """

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.port = port
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def __enter__(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", ws="none", lifespan="on", timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None and self._sock is not None
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()


def wait_ready(url: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll /readyz until the index is loaded; returns its body."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            r = client.get("/readyz")
            if r.status_code == 200:
                return r.json()  # type: ignore[no-any-return]
            assert r.status_code == 503, r.text
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout}s: {r.text}")
            time.sleep(0.1)


def wait_job(
    client: httpx.Client, job_id: str, headers: dict[str, str], timeout: float = 120.0
) -> dict[str, Any]:
    """Poll a job until it is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/jobs/{job_id}", headers=headers)
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")
        time.sleep(0.1)


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) for each server-sent event, as the lines arrive (`event` is "message" when absent)."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


def sse_events(response: httpx.Response) -> list[tuple[str, Any]]:
    """Every event of a streamed response, data decoded from JSON where it is JSON."""
    out: list[tuple[str, Any]] = []
    for event, data in iter_sse(response.iter_lines()):
        try:
            out.append((event, json.loads(data)))
        except ValueError:
            out.append((event, data))
    return out


def copy_index(src: Path, dst: Path) -> Path:
    """A private, writable copy of an index folder."""
    shutil.copytree(src, dst)
    return dst


def assert_envelope(r: httpx.Response, status: int) -> dict[str, Any]:
    """The response is the one error envelope, with this status."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert (
        body["ok"] is False
        and body["status"] == status
        and isinstance(body["error"], str)
        and body["error"]
    )
    return body  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(probe: Callable[[], T | None], timeout: float = 20.0, what: str = "") -> T:
    """Poll `probe` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def chroma_server(folder: Path) -> Iterator[int]:
    """A real `chroma run` on a free loopback port, stopped at the end whatever happens."""
    exe = BIN / "chroma"
    if not exe.exists():
        import pytest

        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    log = (folder / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [
            str(exe),
            "run",
            "--path",
            str(folder / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:

        def beating() -> bool:
            assert proc.poll() is None, (folder / "chroma.log").read_text(errors="replace")
            try:
                url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(beating, 60, "chroma heartbeat")
        yield port
    finally:
        stop(proc)
        log.close()
