"""Iterating over a streaming API method from Python.

The C++ core calls back on its own thread with the GIL released while it waits; a worker thread
runs the call and hands messages to the consuming generator through a bounded queue, so breaking
out of the loop, or Ctrl-C in the consumer, stops the stream promptly (the core polls
``keep_going`` while idle).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterator, Mapping


def iterate(core: Any, method: str, request: Mapping[str, Any] | None, *,
            name: str = "mlcore-stream") -> Iterator[dict[str, Any]]:
    """Yields each response dict of ``method`` called with ``request``."""
    items: queue.Queue = queue.Queue(maxsize=10000)
    stop = threading.Event()
    done = object()
    failure: list[BaseException] = []

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            core.stream(method, request, put, lambda: not stop.is_set())
        except BaseException as e:  # delivered to the consumer
            failure.append(e)
        finally:
            put(done)

    worker = threading.Thread(target=pump, name=name, daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = items.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is done:
                break
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
    if failure:
        raise failure[0]
