"""Load test of `/api/ask` over loopback: N concurrent clients for T seconds, latency percentiles.

    .venv/bin/python bench/load_api.py                       # starts `policy-assistant serve` on the seed index
    .venv/bin/python bench/load_api.py --url http://127.0.0.1:8000 --duration 30 --concurrency 4

Questions come from bench/data/seed_qa.jsonl (follow-ups with their history), round robin. Only
loopback targets are accepted, and the run is bounded by --duration (and at most --max-requests).

    .venv/bin/python bench/load_api.py --concurrency 16 --duration 60 --compare --workers 2

`--compare` measures, in the same run, the baseline server first (one worker, one query embedded at
a time, no query-vector or answer cache: the service as it was before batching) and then the server
as configured (`--workers`, batching and caches at their defaults), and prints the ratios.
`--unique` makes every question text unique (a numbered suffix), so no cache ever hits: the
pipeline's own cost. Without it the 79 questions repeat, as kiosk suggestions do.
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


BASELINE_ENV = {
    "PA_QUERY_BATCH_MAX": "1",
    "PA_QUERY_BATCH_MS": "0",
    "PA_QUERY_CACHE_SIZE": "0",
    "PA_ANSWER_CACHE_SIZE": "0",
}


def start_server(
    index: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
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
    env.update(extra_env or {})
    log_path = index.parent / "load_api-server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            *cli,
            "serve",
            "--index",
            str(index),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
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
            # Every worker must be ready: ask a few times (each connection may land on another).
            if all(
                httpx.get(f"{url}/readyz", timeout=2).status_code == 200 for _ in range(4 * workers)
            ):
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server not ready after 120 s")


def _rss(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out.extend(kids)
        todo.extend(kids)
    return out


class RssSampler(threading.Thread):
    """Samples a process's resident memory every `every` seconds (Linux /proc), for soak runs."""

    def __init__(self, pid: int, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def rss_mb(self) -> float:
        """The server's resident memory, its worker processes included."""
        return sum(_rss(p) for p in [self.pid, *_descendants(self.pid)])

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
    unique: bool = False,
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
                if unique:
                    item = {**item, "question": f"{item['question']}（问{n}）"}
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
                        timings = body.get("timings") or {}
                        total = timings.get("total")
                        if isinstance(total, int | float) and not timings.get("cached"):
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

    # Warm-up requests so first-call costs are not counted (a few per worker).
    for q in questions[:8]:
        httpx.post(f"{url}/api/ask", json=q, timeout=timeout)
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
    p.add_argument("--workers", type=int, default=1, help="server worker processes")
    p.add_argument("--unique", action="store_true", help="no question repeats (no cache hits)")
    p.add_argument(
        "--compare", action="store_true", help="measure the baseline server first, same run"
    )
    args = p.parse_args(argv)
    if not 1 <= args.concurrency <= 64:
        p.error("--concurrency must be between 1 and 64")
    if not 0 < args.duration <= 600:
        p.error("--duration must be in (0, 600]")

    questions = load_questions(args.qa)
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            p.error("--url must be a loopback address (127.0.0.1, localhost, ::1)")
        result = load(args.url.rstrip("/"), questions, args)
    else:
        baseline = None
        if args.compare:
            baseline = measure(args, questions, 1, BASELINE_ENV)
            show(baseline, "baseline (1 worker, no batching, no caches)")
        result = measure(args, questions, args.workers, {})
        if baseline is not None:
            show(result, f"this build ({args.workers} workers, batching and caches on)")
            print(
                f"ratio: throughput {result['throughput_rps'] / baseline['throughput_rps']:.2f}x, "
                f"p50 {result['p50_ms'] / baseline['p50_ms']:.2f}x, p95 {result['p95_ms'] / baseline['p95_ms']:.2f}x"
            )
            return 1 if result["errors"] or baseline["errors"] else 0
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        show(result, "")
    return 1 if result["errors"] else 0


def load(url: str, questions: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """`run` with the command line's load settings."""
    return run(
        url,
        questions,
        args.concurrency,
        args.duration,
        args.max_requests,
        args.timeout,
        args.unique,
    )


def measure(
    args: argparse.Namespace, questions: list[dict[str, Any]], workers: int, env: dict[str, str]
) -> dict[str, Any]:
    """Start a server, load it, stop it."""
    proc, url = start_server(args.index, workers, env)
    sampler = RssSampler(proc.pid)
    sampler.start()
    try:
        result = load(url, questions, args)
        result["server_rss_mb"] = sampler.stop()
        result["workers"] = workers
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return result


def show(result: dict[str, Any], label: str) -> None:
    if label:
        print(f"== {label}")
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


if __name__ == "__main__":
    raise SystemExit(main())
