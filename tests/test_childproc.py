"""leonet.childproc: children the kernel kills with their parent (real processes, no root)."""
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from leonet.childproc import die_with_parent, die_with_parent_hook
from leonet.waiting import poll

ROOT = Path(__file__).resolve().parents[1]
PARENT = """
import subprocess, sys, time
from leonet.childproc import die_with_parent
child = subprocess.Popen(["sleep", "60"], preexec_fn=die_with_parent if sys.argv[1] == "tied" else None)
print(child.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting for its reaper has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def grandchild_after_parent_killed(mode: str) -> int:
    """Start a parent that starts ``sleep 60`` (tied to it or not), SIGKILL the parent, return the sleep's pid."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    pid = int(parent.stdout.readline())
    assert alive(pid)
    parent.kill()
    parent.wait(10)
    return pid


def test_a_tied_child_dies_when_its_parent_is_killed():
    pid = grandchild_after_parent_killed("tied")
    assert poll(lambda: not alive(pid), 10), f"child {pid} outlived its SIGKILLed parent"


def test_an_untied_child_outlives_its_parent():   # what the tie prevents
    pid = grandchild_after_parent_killed("free")
    try:
        assert not poll(lambda: not alive(pid), 1.0)
    finally:
        os.kill(pid, signal.SIGKILL)


def start_from_thread(preexec) -> subprocess.Popen:
    got = []
    t = threading.Thread(target=lambda: got.append(subprocess.Popen(["sleep", "60"], preexec_fn=preexec)))
    t.start()
    t.join()   # the thread that forked the child has ended
    return got[0]


def assert_runs_on(proc: subprocess.Popen) -> None:
    """The child is still running a second later (then it is killed)."""
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(1.0)
    finally:
        proc.kill()
        proc.wait()


def test_a_tied_child_dies_with_the_thread_that_started_it():
    proc = start_from_thread(die_with_parent)
    assert proc.wait(10) == -signal.SIGKILL


def test_a_child_whose_parent_is_already_gone_kills_itself():
    """The race the parent pid closes: a parent dead between fork and prctl signals nobody, so the
    child compares its parent with the one named before the fork (here one that is not its parent)."""
    proc = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: die_with_parent(os.getpid() + 10 ** 7))
    assert proc.wait(10) == -signal.SIGKILL
    assert_runs_on(subprocess.Popen(["sleep", "60"], preexec_fn=die_with_parent_hook()))   # the right parent


def test_the_hook_ties_only_children_started_from_the_main_thread():
    hook = die_with_parent_hook()
    assert hook.func is die_with_parent and hook.args == (os.getpid(),)
    hooks = []
    t = threading.Thread(target=lambda: hooks.append(die_with_parent_hook()))
    t.start()
    t.join()
    assert hooks == [None]
    assert_runs_on(start_from_thread(hooks[0]))   # untied: survives its thread
