"""Iterating over a streaming API method from Python.

The C++ core calls back on its own thread with the GIL released while it waits; a worker thread
runs the call and hands messages to the consumer through a bounded queue, so breaking out of the
loop, ``close()``, dropping the iterator, or Ctrl-C in the consumer stops the stream promptly (the
core polls ``keep_going`` while idle). Streams still open when the interpreter exits are stopped
first, so no worker is left inside the core.

A Stream starts when it is created and returns once the stream is established (its first message
arrived, or the core went idle, or it failed): a watch of "new events" created before a change
sees that change, and an error (unknown project, bad filter) is raised by the constructor.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from typing import Any, Callable, Iterator, Mapping

_DONE = object()


class _Pump:
    """What the worker thread shares with its Stream (the thread never references the Stream,
    so dropping the Stream stops it)."""

    def __init__(self) -> None:
        self.items: queue.Queue = queue.Queue(maxsize=10000)
        self.stop = threading.Event()
        self.established = threading.Event()
        self.failure: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def put(self, item: Any) -> bool:
        self.established.set()
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def keep_going(self) -> bool:
        self.established.set()
        return not self.stop.is_set()

    def run(self, core: Any, method: str, request: Mapping[str, Any] | None) -> None:
        try:
            core.stream(method, request, self.put, self.keep_going)
        except BaseException as e:  # delivered to the consumer
            self.failure.append(e)
        finally:
            self.put(_DONE)
            self.established.set()
            _live.discard(self)

    def halt(self) -> None:
        self.stop.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=5)


_live: "weakref.WeakSet[_Pump]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for pump in list(_live):
        pump.halt()


class Stream(Iterator[Any]):
    """The messages of ``method`` called with ``request``, passed through ``convert``."""

    def __init__(self, core: Any, method: str, request: Mapping[str, Any] | None, *,
                 convert: Callable[[dict[str, Any]], Any] = lambda m: m,
                 name: str = "mlcore-stream") -> None:
        self._pump = _Pump()
        self._convert = convert
        self._finished = False
        pump = self._pump
        pump.thread = threading.Thread(target=pump.run, args=(core, method, request), name=name,
                                       daemon=True)
        _live.add(pump)
        pump.thread.start()
        try:
            while not pump.established.wait(0.1):  # short waits keep Ctrl-C responsive
                pass
        except BaseException:
            self.close()
            raise
        if pump.failure and pump.items.qsize() <= 1:
            self.close()
            raise pump.failure[0]

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        pump = self._pump
        while True:
            try:
                item = pump.items.get(timeout=0.1)
            except queue.Empty:
                continue
            except BaseException:
                self.close()
                raise
            if item is _DONE:
                self.close()
                if pump.failure:
                    raise pump.failure[0]
                raise StopIteration
            return self._convert(item)

    def close(self) -> None:
        """Stops the stream (idempotent)."""
        self._finished = True
        self._pump.halt()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self._pump.stop.set()
