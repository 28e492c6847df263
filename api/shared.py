"""State every worker of one deployment shares: ingest jobs and rate-limit counts, in SQLite.

Several uvicorn workers (or hosts mounting one index folder) each run their own process; a job
created on one must be visible when polled on another, and N workers must not allow N times the
rate limit. One SQLite file next to the index holds both (WAL mode: readers never wait on the one
writer). A connection per call keeps it safe across threads without a pool.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from assistant.errors import NotFound

from .jobs import Job  # jobs.py imports this module only for typing

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER, owner TEXT, body TEXT NOT NULL, status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_seq ON jobs (seq);
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_key ON hits (key, at);
"""
SHARED_FILE = "shared.sqlite3"
WINDOW = 60.0  # seconds of the rate limit's sliding window
LIVE = ("queued", "running")


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SharedState:
    """The SQLite file shared by a deployment's workers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=10000")
            yield db
        finally:
            db.close()


class JobStore:
    """Ingest jobs by id, newest first; the worker that runs a job writes its status."""

    def __init__(self, state: SharedState, keep: int = 500) -> None:
        self.state = state
        self.keep = keep
        self.owner = this_worker()
        self._fail_orphans()

    def add(self, job: Job) -> None:
        with self.state.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            db.execute(
                "INSERT INTO jobs (id, seq, owner, body, status) VALUES (?, ?, ?, ?, ?)",
                (job.id, seq, self.owner, _dump(job), job.status),
            )
            # Forget the oldest finished jobs beyond `keep`.
            db.execute(
                "DELETE FROM jobs WHERE status NOT IN ('queued', 'running') AND seq <= ?",
                (seq - self.keep,),
            )
            db.execute("COMMIT")

    def save(self, job: Job) -> None:
        with self.state.connect() as db:
            db.execute(
                "UPDATE jobs SET body = ?, status = ? WHERE id = ?",
                (_dump(job), job.status, job.id),
            )

    def get(self, job_id: str) -> Job:
        with self.state.connect() as db:
            row = db.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id!r}")
        return _load(row[0])

    def list(self) -> list[Job]:
        with self.state.connect() as db:
            rows = db.execute("SELECT body FROM jobs ORDER BY seq DESC").fetchall()
        return [_load(r[0]) for r in rows]

    def pending(self) -> int:
        with self.state.connect() as db:
            return int(
                db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')"
                ).fetchone()[0]
            )

    def _fail_orphans(self) -> None:
        """Jobs left queued or running by a process of this host that is gone never finish."""
        host = socket.gethostname()
        with self.state.connect() as db:
            rows = db.execute(
                "SELECT id, owner, body FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchall()
        for _, owner, body in rows:
            name, _, pid = str(owner).rpartition(":")
            if name == host and pid.isdigit() and not _alive(int(pid)):
                job = _load(body)
                job.status, job.error = "failed", "the worker running this job stopped"
                self.save(job)


class RateLimiter:
    """A sliding one-minute window of requests per client address, shared by every worker."""

    def __init__(self, state: SharedState, per_minute: int) -> None:
        self.state = state
        self.per_minute = per_minute

    def check(self, key: str) -> float | None:
        """None if allowed (and counted), else seconds until the next request would be."""
        if self.per_minute <= 0:
            return None
        now = time.time()
        with self.state.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM hits WHERE at <= ?", (now - WINDOW,))
            count, first = db.execute(
                "SELECT COUNT(*), MIN(at) FROM hits WHERE key = ?", (key,)
            ).fetchone()
            if count >= self.per_minute:
                db.execute("COMMIT")
                return WINDOW - (now - first)
            db.execute("INSERT INTO hits (key, at) VALUES (?, ?)", (key, now))
            db.execute("COMMIT")
        return None


def client_address(peer: str, forwarded: str, trusted: Sequence[str]) -> str:
    """The client behind trusted proxies: the right-most X-Forwarded-For address that is not one.

    Without trusted proxies (or from a peer that is not one) the header is ignored, since any
    client can send it.
    """
    nets = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in n for n in nets)

    if not nets or not is_trusted(peer):
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not is_trusted(hop):
            return hop
    return peer


def _dump(job: Job) -> str:
    return json.dumps(asdict(job), ensure_ascii=False)


def _load(body: str) -> Job:
    data: dict[str, Any] = json.loads(body)
    names = {f.name for f in fields(Job)}
    return Job(**{k: v for k, v in data.items() if k in names})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
