"""`leonet run` as a user runs it, with `exec`, `nodes`, `status`, `check` and
`cleanup` from another shell; Ctrl-C and kill -9 leave nothing behind."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import require_root
from leonet.emulation import netns, runstate
from leonet.waiting import wait_for

from . import scenarios

LEONET = [sys.executable, "-m", "leonet.cli.main"]


def leonet(*args, timeout=60):
    return subprocess.run(LEONET + list(args), capture_output=True, text=True, timeout=timeout)


def wait_for_run(proc, timeout=60):
    def up():
        if proc.poll() is not None:
            raise AssertionError("leonet run exited: " + proc.stderr.read())
        return runstate.active_run() is not None and runstate.STATUS_FILE.exists()
    wait_for(up, timeout, "leonet run to come up", interval=0.2)


def left_over(namespaces):
    """Which of a run's namespaces still exist (other suites may hold ln-* ones too)."""
    return set(namespaces) & set(netns.list_namespaces())


@pytest.fixture
def scenario(tmp_path):
    require_root()
    return scenarios.write(tmp_path)


def test_run_exec_nodes_status_check_and_ctrl_c(scenario):
    proc = subprocess.Popen(LEONET + ["run", scenario, "--backend", "none"], stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        wait_for_run(proc)
        nodes = json.loads(leonet("nodes", "--format", "json").stdout)
        assert len(nodes) == 82
        namespaces = [n["netns"] for n in runstate.active_run()["nodes"]]
        madrid = next(n for n in nodes if n["name"] == "Madrid")
        assert madrid["kind"] == "ground_station" and madrid["address"].startswith("10.64.")
        out = leonet("exec", "s0p0n0", "--", "ip", "-o", "addr", "show", "lo")
        assert nodes[0]["address"] in out.stdout
        status = json.loads(leonet("status", "--format", "json").stdout)
        assert status["backend"] == "none" and status["time"].startswith("2026-01-31T12:00")
        time.sleep(2.5)
        assert json.loads(leonet("status", "--format", "json").stdout)["tick"] >= 1
        text = leonet("status").stdout
        assert "last tick: apply" in text and "routes" in text, text
        assert "delay backend health: none: not self-measured" in text, text
        check = leonet("check")
        assert check.returncode == 0, check.stdout
        assert "leonet run" not in leonet("exec", "Nowhere", "--", "true").stderr
        assert leonet("exec", "Nowhere", "--", "true").returncode == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert "leonet: delay backend none" in proc.stderr.read()   # the run's summary says how the backend did
    assert not left_over(namespaces)
    assert runstate.active_run() is None
    assert leonet("nodes").returncode == 2  # no active run: a clear error


def test_kill_9_then_cleanup_leaves_nothing(scenario):
    proc = subprocess.Popen(LEONET + ["run", scenario, "--backend", "nfqueue"], stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    wait_for_run(proc)
    # a process the run did not start keeps a node's namespace busy
    namespaces = [n["netns"] for n in runstate.active_run()["nodes"]]
    berlin = next(n for n in runstate.active_run()["nodes"] if n["name"] == "Berlin")
    bg = subprocess.Popen(["nsenter", f"--net=/run/netns/{berlin['netns']}", "--", "sleep", "300"])
    daemons = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "leonet.emulation.shaping"],
                             capture_output=True, text=True).stdout.split()
    assert daemons, "the nfqueue backend should run its daemon"
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert left_over(namespaces)  # the crash left them
    out = leonet("cleanup")
    assert out.returncode == 0, out.stderr
    assert bg.wait(timeout=10) != 0
    assert not left_over(namespaces)
    for pid in set(daemons) | set(children):  # the delay daemon, the lookahead worker, ...
        deadline = time.time() + 5
        while runstate.pid_alive(int(pid)) and time.time() < deadline:
            time.sleep(0.1)
        assert not runstate.pid_alive(int(pid)), f"child process {pid} of the killed run survived"
    assert leonet("cleanup").returncode == 0  # idempotent


def test_run_rejects_bad_config_before_starting(tmp_path):
    require_root()
    import yaml
    raw = dict(scenarios.TINY, emulation={"backend": "warp"})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = leonet("run", str(path))
    assert out.returncode == 2 and "emulation.backend" in out.stderr and "Traceback" not in out.stderr
    assert runstate.active_run() is None
