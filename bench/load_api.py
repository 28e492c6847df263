"""Load test of `/api/ask` over loopback: N concurrent clients for T seconds, latency percentiles.

    .venv/bin/python bench/load_api.py                       # starts `policy-assistant serve` on the seed index
    .venv/bin/python bench/load_api.py --url http://127.0.0.1:8000 --duration 30 --concurrency 4

Questions come from bench/data/seed_qa.jsonl (follow-ups with their history), round robin. Only
loopback targets are accepted, and the run is bounded by --duration (and at most --max-requests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def load_questions(path: Path) -> list[dict[str, Any]]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            qa = json.loads(line)
            history = [{"role": "user", "content": h} for h in qa.get("history", [])]
            items.append({"question": qa["question"], "history": history})
    return items


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(index: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`policy-assistant serve` on a free loopback port (building the seed index first if needed)."""
    exe = Path(sys.executable).with_name("policy-assistant")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "assistant.cli"]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    if not (index / "chroma").exists():
        print(f"building the seed index at {index} …", file=sys.stderr)
        subprocess.run(
            [*cli, "ingest", str(REPO / "corpus"), "--index", str(index), "--quiet"],
            check=True,
            env=env,
            cwd=REPO,
        )
    port = free_port()
    env["PA_UPLOAD_DIR"] = str(index / "uploads")
    log_path = index.parent / "load_api-server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited; see {log_path}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server not ready after 120 s")


class RssSampler(threading.Thread):
    """Samples a process's resident memory every `every` seconds (Linux /proc), for soak runs."""

    def __init__(self, pid: int, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def run(self) -> None:
        start = time.monotonic()
        while not self._halt.is_set():
            try:
                self.samples.append((time.monotonic() - start, self.rss_mb()))
            except OSError:
                return
            self._halt.wait(self.every)

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self.join(timeout=5)
        values = [v for _, v in self.samples]
        if not values:
            return {}
        # Growth is judged after the first minute: caches (jieba, BM25, Chroma) fill while warming up.
        settled = [v for t, v in self.samples if t >= 60] or values
        return {
            "start": round(values[0], 1),
            "after_warmup": round(settled[0], 1),
            "max": round(max(values), 1),
            "end": round(values[-1], 1),
            "growth_after_warmup": round(values[-1] - settled[0], 1),
        }


def run(
    url: str,
    questions: list[dict[str, Any]],
    concurrency: int,
    duration: float,
    max_requests: int,
    timeout: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    overheads: list[float] = []  # HTTP latency minus the library's own timings["total"]
    errors: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    counter = iter(range(10**12))

    def client(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=timeout) as http:
            while time.monotonic() < stop_at:
                with lock:
                    n = next(counter)
                if n >= max_requests:
                    return
                item = questions[n % len(questions)]
                started = time.perf_counter()
                try:
                    r = http.post("/api/ask", json=item)
                    elapsed = time.perf_counter() - started
                    ok = r.status_code == 200
                    body = r.json() if ok else None
                except (httpx.HTTPError, ValueError) as exc:
                    with lock:
                        errors[type(exc).__name__] += 1
                    continue
                with lock:
                    if ok and body is not None:
                        latencies.append(elapsed)
                        total = (body.get("timings") or {}).get("total")
                        if isinstance(total, int | float):
                            overheads.append(elapsed * 1000 - total)
                        outcomes[
                            "abstained"
                            if body.get("abstained")
                            else "cited"
                            if body.get("citations")
                            else "uncited"
                        ] += 1
                    else:
                        errors[f"HTTP {r.status_code}"] += 1

    health: list[float] = []

    def probe() -> None:
        """The event loop must stay responsive while the threadpool answers: poll /healthz."""
        with httpx.Client(base_url=url, timeout=timeout) as http:
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                try:
                    http.get("/healthz")
                    health.append((time.perf_counter() - t0) * 1000)
                except httpx.HTTPError:
                    with lock:
                        errors["healthz"] += 1
                time.sleep(0.5)

    # One warm-up request so first-call costs are not counted.
    httpx.post(f"{url}/api/ask", json=questions[0], timeout=timeout)
    stop_at = time.monotonic() + duration
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    threads.append(threading.Thread(target=probe))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {
        "url": url,
        "concurrency": concurrency,
        "duration_s": round(wall, 1),
        "requests": len(latencies) + sum(errors.values()),
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "outcomes": dict(outcomes),
        "throughput_rps": round(len(latencies) / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan"),
        "http_overhead_p50_ms": round(percentile(overheads, 0.50), 1),
        "http_overhead_p95_ms": round(percentile(overheads, 0.95), 1),
        "healthz_p95_ms": round(percentile(health, 0.95), 1),
        "healthz_max_ms": round(max(health), 1) if health else float("nan"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--url", help="target an already running server (loopback only); default: start one"
    )
    p.add_argument(
        "--index",
        type=Path,
        default=REPO / "bench" / "out" / "load-index",
        help="index for the server started here",
    )
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--duration", type=float, default=60.0, help="seconds (at most 600)")
    p.add_argument("--max-requests", type=int, default=100_000)
    p.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    p.add_argument("--qa", type=Path, default=REPO / "bench" / "data" / "seed_qa.jsonl")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if not 1 <= args.concurrency <= 64:
        p.error("--concurrency must be between 1 and 64")
    if not 0 < args.duration <= 600:
        p.error("--duration must be in (0, 600]")

    questions = load_questions(args.qa)
    proc = None
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            p.error("--url must be a loopback address (127.0.0.1, localhost, ::1)")
        url = args.url.rstrip("/")
    else:
        proc, url = start_server(args.index)
    sampler = RssSampler(proc.pid) if proc is not None else None
    if sampler is not None:
        sampler.start()
    try:
        result = run(
            url, questions, args.concurrency, args.duration, args.max_requests, args.timeout
        )
        if sampler is not None:
            result["server_rss_mb"] = sampler.stop()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(
            f"POST /api/ask, {result['concurrency']} concurrent clients for {result['duration_s']} s on {result['url']}"
        )
        print(f"  machine:    {result['machine']}")
        print(
            f"  requests:   {result['requests']} ({result['ok']} ok, {result['errors']} errors {result['error_kinds'] or ''})"
        )
        print(f"  outcomes:   {result['outcomes']}")
        if result.get("server_rss_mb"):
            print(f"  server RSS MB: {result['server_rss_mb']}")
        print(f"  throughput: {result['throughput_rps']} req/s")
        print(
            f"  latency ms: p50 {result['p50_ms']}  p95 {result['p95_ms']}  p99 {result['p99_ms']}  "
            f"max {result['max_ms']}  mean {result['mean_ms']}"
        )
        print(
            f"  HTTP overhead ms (latency minus the answer's own timings.total): "
            f"p50 {result['http_overhead_p50_ms']}  p95 {result['http_overhead_p95_ms']}"
        )
        print(
            f"  /healthz during the run ms: p95 {result['healthz_p95_ms']}  max {result['healthz_max_ms']}"
        )
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
