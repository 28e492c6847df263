"""Query embedding under concurrency: batched calls, a cache for repeats, errors to every waiter."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from assistant.index.embed import QueryBatcher


class Recorder:
    """An embedder whose vector encodes the text, and which records each call's texts."""

    name = "recorder"

    def __init__(self, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.callers: list[int] = []
        self.gate = gate
        self.fail = fail
        self.entered = threading.Event()

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        self.callers.append(threading.get_ident())
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise RuntimeError("engine failed")
        return np.array([[float(len(t)), float(ord(t[0]))] for t in texts], dtype=np.float32)


def queued(batcher: QueryBatcher, n: int) -> None:
    """Until `n` queries wait behind the running batch."""
    pause = threading.Event()  # never set: only its wait is used, between looks at the queue
    while len(batcher._queue) < n:
        pause.wait(0.01)


def test_repeated_queries_come_from_the_cache_and_passages_pass_through() -> None:
    inner = Recorder()
    batcher = QueryBatcher(inner, cache_size=2, window=0)
    first = batcher.embed(["配套设施", "带押过户"], query=True)
    again = batcher.embed(["带押过户"], query=True)
    assert np.array_equal(again[0], first[1])
    assert inner.calls == [["配套设施", "带押过户"]]
    batcher.embed(["复垦"], query=True)  # evicts the least recently used (配套设施)
    batcher.embed(["配套设施"], query=True)
    assert inner.calls[-1] == ["配套设施"]
    batcher.embed(["某段正文"])  # passages are never cached
    batcher.embed(["某段正文"])
    assert inner.calls[-2:] == [["某段正文"], ["某段正文"]]
    assert batcher.name == "recorder"


def test_queries_arriving_during_a_batch_are_embedded_together_next() -> None:
    gate = threading.Event()
    inner = Recorder(gate)
    batcher = QueryBatcher(inner, window=0, max_batch=16)
    results: dict[str, np.ndarray] = {}

    def ask(text: str) -> None:
        results[text] = batcher.embed([text], query=True)[0]

    leader = threading.Thread(target=ask, args=("第一个问题",))
    leader.start()
    assert inner.entered.wait(10)  # the first query is being embedded, alone
    others = [threading.Thread(target=ask, args=(f"问题{i}",)) for i in range(5)]
    for t in others:
        t.start()
    queued(batcher, 5)  # all five wait behind the running batch; then let it finish
    gate.set()
    for t in [leader, *others]:
        t.join(10)
    assert inner.calls[0] == ["第一个问题"]
    assert sorted(inner.calls[1]) == sorted(f"问题{i}" for i in range(5))
    assert batcher.batches == [1, 5]
    for text, vector in results.items():
        assert vector[0] == len(text) and vector[1] == ord(text[0])


def test_an_engine_error_reaches_every_waiting_request() -> None:
    batcher = QueryBatcher(Recorder(fail=True), window=0)
    with pytest.raises(RuntimeError, match="engine failed"):
        batcher.embed(["问题"], query=True)
    # The lead is handed back: the next query is tried again, not stuck behind the failure.
    with pytest.raises(RuntimeError):
        batcher.embed(["问题"], query=True)


def test_a_leader_returns_once_its_own_query_is_embedded() -> None:
    """Under steady load the queue never empties: a leader that kept serving it would never answer
    its own request (seen as a 30 s timeout in the load test with one query per batch)."""
    gate = threading.Event()
    inner = Recorder(gate)
    batcher = QueryBatcher(inner, window=0, max_batch=1)
    threads = {}

    def ask(text: str) -> None:
        threads[text] = threading.get_ident()
        batcher.embed([text], query=True)

    leader = threading.Thread(target=ask, args=("领头的问题",))
    leader.start()
    assert inner.entered.wait(10)
    others = [threading.Thread(target=ask, args=(f"排队的问题{i}",)) for i in range(3)]
    for t in others:
        t.start()
    queued(batcher, 3)
    gate.set()
    for t in [leader, *others]:
        t.join(10)
    assert len(inner.calls) == 4 and batcher.batches == [1, 1, 1, 1]
    assert inner.callers[0] == threads["领头的问题"]
    assert threads["领头的问题"] not in inner.callers[1:]
