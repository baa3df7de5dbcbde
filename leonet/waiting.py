"""Waiting for something to happen: a condition to hold, a child process to say it is ready.

Shared by every layer (it imports nothing of leonet), by experiments and by tests:

    pod = wait_for(lambda: ready_pod(name), 30, "the pod Ready")  # raises TimeoutError
    got = poll(lambda: owner.ready_at.get(name), 15)              # None after 15 s
    words = wait_for_line(proc, "READY", 30)      # ["READY", url, kubeconfig]; None if it died first
"""
from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from typing import AnyStr, Awaitable, Callable, List, Optional, TypeVar

T = TypeVar("T")


def poll(pred: Callable[[], T], timeout: float, interval: float = 0.05) -> Optional[T]:
    """Call ``pred`` every ``interval`` seconds until it returns something truthy and return
    that; after ``timeout`` seconds (``pred`` is asked once more at the deadline), ``None``."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def wait_for(pred: Callable[[], T], timeout: float = 10.0, what: str = "condition", interval: float = 0.05) -> T:
    """:func:`poll`, but a timeout raises ``TimeoutError`` naming ``what`` was awaited."""
    v = poll(pred, timeout, interval)
    if v is None:
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
    return v


async def wait_for_async(pred: Callable[[], Awaitable[T]], timeout: float = 10.0, what: str = "condition",
                         interval: float = 0.05) -> T:
    """:func:`wait_for` for a coroutine predicate, sleeping on the running event loop."""
    deadline = time.monotonic() + timeout
    while True:
        v = await pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def wait_for_line(proc: subprocess.Popen, word: AnyStr, timeout: float) -> Optional[List[AnyStr]]:
    """Read ``proc``'s stdout (a pipe, text or bytes) until a line whose first word is ``word``
    and return that line's words; ``None`` if the output ends (the process died) or ``timeout``
    seconds pass first. Earlier lines are dropped; later ones stay in the pipe for the caller.

    A child process says it is ready this way (``READY <url> <kubeconfig>``, ``ready``). The
    lines are read on a helper thread, so a child that stays silent cannot block the caller
    past ``timeout``; after a timeout that thread reads on until the caller stops the child."""
    assert proc.stdout is not None, "start the process with stdout=subprocess.PIPE"
    found: List[List[AnyStr]] = []

    def read() -> None:
        while True:
            line = proc.stdout.readline()
            if not line:
                return
            words = line.split()
            if words and words[0] == word:
                found.append(words)
                return

    reader = threading.Thread(target=read, name="leonet-wait-for-line", daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else None
