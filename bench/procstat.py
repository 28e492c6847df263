"""Memory of the running process, from /proc (Linux): shared by the benchmarks."""

from __future__ import annotations

from pathlib import Path


def status_mb(field: str) -> float:
    """A /proc/self/status figure in MB (VmRSS: resident now; VmHWM: the peak); nan if absent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    return status_mb("VmRSS")
