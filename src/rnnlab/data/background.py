"""Batches prepared ahead in a background thread: reading, tokenizing and padding the next
batches overlaps the training step (the Parquet reader and the compiled tokenizer release the
GIL), through a bounded queue so that memory stays bounded.

Closing the consumer (the end of a pass, a fit that stops after ``steps_per_epoch``, an error
or KeyboardInterrupt in training) stops and joins the thread; an error in the thread is raised
in the consumer, naming the batch it was preparing."""
from __future__ import annotations

import queue
import threading

_POLL = 0.05          # seconds between the worker's checks that the consumer is still there
_ITEM, _END, _ERROR = range(3)


def _named(exc: BaseException, where: str) -> BaseException:
    """``exc`` with ``where`` (the data and the batch) in its message: a new exception of the same
    type chained to it when its type takes one message (ValueError, OSError...), else ``exc``
    itself with a note (PEP 678)."""
    message = f"{where}: {exc}"
    if isinstance(exc, Exception):
        try:
            new = type(exc)(message)
        except Exception:                               # a constructor that wants more
            new = None
        if new is not None and str(new) == message:
            new.__cause__ = exc
            return new
    exc.add_note(where)
    return exc


def named_errors(make_batches, what: str):
    """Yield the items of ``make_batches()`` on this thread, an exception in it raised as in
    :func:`background`, naming the batch."""
    index = 0
    batches = make_batches()
    try:
        while True:
            try:
                item = next(batches)
            except StopIteration:
                return
            except BaseException as exc:
                raise _named(exc, f"{what}: batch {index}")
            yield item
            del item
            index += 1
    finally:
        batches.close()


def background(make_batches, max_ahead: int, what: str, name: str = "rnnlab-prefetch"):
    """Yield the items of ``make_batches()`` (a generator function), produced by a daemon thread
    at most ``max_ahead`` items ahead.  An exception there is raised here as
    ``"{what}: batch {i}: ..."`` (see :func:`_named`), ``i`` counting the items from 0."""
    items: queue.Queue = queue.Queue(max_ahead)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def work():
        batches = make_batches()
        try:
            for item in batches:
                if not put((_ITEM, item)):
                    return
            put((_END, None))
        except BaseException as exc:                    # handed to the consumer
            put((_ERROR, exc))
        finally:
            batches.close()

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    index = 0
    try:
        while True:
            kind, item = items.get()
            if kind == _END:
                return
            if kind == _ERROR:
                raise _named(item, f"{what}: batch {index}")
            yield item
            del item
            index += 1
    finally:
        stop.set()
        worker.join()
