"""leonet.waiting: polling a condition and a child process's ready line (real processes, no root)."""
import asyncio
import subprocess
import sys
import time

import pytest

from leonet.waiting import poll, wait_for, wait_for_async, wait_for_line


def child(script: str, text: bool = True) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=text)


def test_poll_returns_the_first_truthy_value_once_it_comes():
    t0 = time.monotonic()
    got = poll(lambda: (time.monotonic() - t0 > 0.2) and "done", timeout=5, interval=0.01)
    assert got == "done" and 0.2 < time.monotonic() - t0 < 4


def test_poll_gives_none_after_the_timeout_and_asks_once_more_at_the_deadline():
    calls = []
    t0 = time.monotonic()
    assert poll(lambda: calls.append(time.monotonic()) or 0, timeout=0.3, interval=0.05) is None
    assert calls[-1] - t0 >= 0.3 and len(calls) >= 2


def test_wait_for_raises_a_timeout_naming_what_it_awaited():
    with pytest.raises(TimeoutError, match="after 0.1 s waiting for the pod Ready"):
        wait_for(lambda: None, 0.1, "the pod Ready")
    assert wait_for(lambda: [1], 1) == [1]


def test_wait_for_async_awaits_a_coroutine_predicate():
    state = {"n": 0}

    async def ready():
        state["n"] += 1
        return state["n"] >= 3 and state["n"]

    assert asyncio.run(wait_for_async(ready, 5, interval=0.01)) == 3

    async def never():
        return None

    with pytest.raises(TimeoutError, match="waiting for the lease"):
        asyncio.run(wait_for_async(never, 0.1, "the lease"))


def test_wait_for_line_skips_earlier_lines_and_leaves_later_ones():
    proc = child("print('starting', flush=True); print('READY https://127.0.0.1:6443 /tmp/kc'); print('after')")
    try:
        assert wait_for_line(proc, "READY", 10) == ["READY", "https://127.0.0.1:6443", "/tmp/kc"]
        assert proc.stdout.readline() == "after\n"
    finally:
        proc.wait(10)


def test_wait_for_line_reads_bytes_pipes_too():
    proc = child("import sys; sys.stdout.write('ready\\n'); sys.stdout.flush()", text=False)
    try:
        assert wait_for_line(proc, b"ready", 10) == [b"ready"]
    finally:
        proc.wait(10)


def test_wait_for_line_gives_none_when_the_child_dies_first():
    proc = child("print('READYish'); raise SystemExit(3)")
    t0 = time.monotonic()
    assert wait_for_line(proc, "READY", 10) is None
    assert time.monotonic() - t0 < 9 and proc.wait(10) == 3


def test_wait_for_line_gives_none_after_the_timeout_if_the_child_stays_silent():
    proc = child("import time; time.sleep(30)")
    try:
        t0 = time.monotonic()
        assert wait_for_line(proc, "READY", 0.3) is None
        assert 0.3 <= time.monotonic() - t0 < 5
    finally:
        proc.kill()
        proc.wait(10)
