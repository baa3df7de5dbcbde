"""Ctrl-C ends a live run as completely as SIGTERM does, however it arrives: to the run's process
alone, to its whole process group (a terminal's Ctrl-C), twice (an impatient user), or to a run
started in the background of a script (which starts with SIGINT ignored). Nothing is left behind:
namespaces, the management namespace of the info API, child processes, /etc/netns entries and the
/run/leonet records."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require_root
from leonet.emulation import netns, runstate

from . import scenarios

LEONET = [sys.executable, "-m", "leonet.cli.main"]
#: a run of the tiny scenario stops in a few seconds; this bound only catches hangs
STOP_WITHIN_S = 60


@pytest.fixture
def scenario(tmp_path):
    require_root()
    return scenarios.write(tmp_path)


def start(scenario: str, ignore_sigint: bool = False) -> subprocess.Popen:
    """`leonet run` in a session of its own; with ``ignore_sigint`` as a script's background job
    starts it (`setsid leonet run ... &` in a non-interactive shell: SIGINT is ignored)."""
    def prepare():
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = subprocess.Popen(LEONET + ["run", scenario, "--backend", "nfqueue"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=prepare)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("leonet run exited: " + proc.stderr.read())
        record = runstate.active_run()
        if record is not None and record.get("pid") == proc.pid and runstate.STATUS_FILE.exists():
            time.sleep(1.5)  # a tick or two
            return proc
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("leonet run did not come up")


def what_the_run_has(proc: subprocess.Popen) -> dict:
    record = runstate.active_run()
    assert record is not None and record["pid"] == proc.pid
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 2, "the nfqueue daemon and the lookahead worker"
    return {"namespaces": [n["netns"] for n in record["nodes"]], "children": [int(c) for c in children]}


def assert_nothing_left(run: dict) -> None:
    assert not set(run["namespaces"]) & set(netns.list_namespaces()), "namespaces left behind"
    assert not [ns for ns in run["namespaces"] if Path("/etc/netns", ns).exists()], "/etc/netns entries left"
    assert "ln--info" not in netns.list_namespaces(), "the info API's management namespace was left"
    for pid in run["children"]:
        deadline = time.time() + 5
        while runstate.pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not runstate.pid_alive(pid), f"child process {pid} survived"
    assert runstate.active_run() is None and not runstate.STATUS_FILE.exists(), "/run/leonet records left"


def stop(proc: subprocess.Popen, send) -> float:
    started = time.monotonic()
    send()
    try:
        proc.wait(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        subprocess.run(LEONET + ["cleanup"], capture_output=True)
        raise AssertionError(f"leonet run did not stop within {STOP_WITHIN_S} s of the signal")
    return time.monotonic() - started


def test_sigint_to_a_run_started_by_a_script(scenario):
    """`setsid leonet run ... &` from a script, then `kill -INT`: the run restores Ctrl-C for itself."""
    proc = start(scenario, ignore_sigint=True)
    run = what_the_run_has(proc)
    stop(proc, lambda: os.kill(proc.pid, signal.SIGINT))
    out = proc.stderr.read()
    assert proc.returncode == 0, out
    assert "stopping" in out and "Traceback" not in out, out
    assert_nothing_left(run)


def test_ctrl_c_to_the_process_group_twice(scenario):
    """A terminal's Ctrl-C reaches every process of the group; a second one while the run tears down
    must not cut the teardown short. The children leave the stopping to the run."""
    proc = start(scenario)
    run = what_the_run_has(proc)

    def twice():
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
    stop(proc, twice)
    out = proc.stderr.read()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert_nothing_left(run)


def test_the_mininet_cli_prints_each_answer_once(scenario):
    """`leonet run --cli` with commands on stdin: every answer appears once (Mininet's output level
    also went through leonet's log handler, prefixed `leonet: Level 25:`)."""
    out = subprocess.run(LEONET + ["run", scenario, "--backend", "none", "--cli"], input="time\nwhere Berlin\n"
                         "path Berlin Madrid\nhandovers\nhelp\nBerlin echo hello-from-berlin\nexit\n",
                         capture_output=True, text=True, timeout=180)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "Level 25" not in text, text
    for answer in ("offset 0.0 s", "Berlin: lat 52.520", "no handovers yet", "Documented commands",
                   "hello-from-berlin"):
        assert text.count(answer) == 1, (answer, text)
    assert text.count("Berlin -> Madrid") == 1, text
