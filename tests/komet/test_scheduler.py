"""The ground scheduler against the predicted orbit, on the bench (22 Komet servers
named as the satellites of komet-live-cache, in a private namespace; no emulation, so
no live lock): the emulated clock is a number the test advances. A client process
follows the scheduler's WebSocket pushes and writes and reads throughout."""
import asyncio
import csv
import subprocess
import sys

import pytest

from leonet.komet import make_strategy
from leonet.komet.apps import CACHE
from leonet.komet.migration import Deployment
from leonet.komet.platform import REPO, child_env
from leonet.waiting import wait_for_line
from leonet.komet.scheduler import WS_PORT, GroundScheduler
from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine
from tests.conftest import require_binary, require_root

from .bench import Bench

HANDOFF_S = 40500 + 219            #: s0p0n2 -> s0p0n1 for Redmond (one-to-one 10 %, see test_live.py)


class Run:
    """A scheduler from HANDOFF_S - 25 s and a client at 20 requests a second."""

    def __init__(self, tmp_path):
        require_root()
        require_binary("redis-server")
        self.engine = TopologyEngine(load_constellation("komet-live-cache"))
        self.bench = Bench(tmp_path, [s.name for s in self.engine.constellation.satellites])
        self.clock = HANDOFF_S - 25.0
        self.dep = Deployment(CACHE, self.bench.clients.get)
        self.sched = GroundScheduler(self.engine, self.dep, make_strategy("one-to-one", 0.1), ["redmond"],
                                     lambda: self.clock, lead_s=20)
        self.bench.loop.run(self.sched.serve("127.0.0.1", WS_PORT))
        self.bench.loop.run(self.sched.start(), 60)
        self.out = tmp_path / "requests.csv"
        self.client = subprocess.Popen(
            ["ip", "netns", "exec", self.bench.netns, sys.executable, "-m", "apps.komet.client", "--scheduler",
             f"ws://127.0.0.1:{WS_PORT}/ws", "--client", "redmond", "--duration", "120", "--interval", "0.05",
             "--timeout", "0.5", "--out", str(self.out)], stdout=subprocess.PIPE, env=child_env(), cwd=str(REPO))
        assert wait_for_line(self.client, b"ready", 30)

    def advance(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock += 1
            self.bench.loop.run(self.sched.tick(), 60)
            self.bench.loop.run(self.sched.deployed(), 60)
            self.bench.loop.run(asyncio.sleep(0.1))

    def requests(self):
        self.bench.loop.run(asyncio.sleep(1.0))          # a few requests at the last satellite
        self.client.terminate()
        self.client.wait(20)
        with open(self.out, newline="") as fh:
            return list(csv.DictReader(fh))

    def close(self) -> None:
        if self.client.poll() is None:
            self.client.kill()
        self.bench.loop.run(self.sched.close())
        self.bench.close()


@pytest.fixture
def run(tmp_path):
    r = Run(tmp_path)
    yield r
    r.close()


def test_scheduler_plans_from_the_orbit_and_moves_the_cache_without_a_failed_request(run):
    assert run.sched.assignment == {"redmond": "s0p0n2"}
    run.advance(35)
    ev = {e["event"]: e for e in run.sched.events}
    assert ev["plan"]["offset_s"] == HANDOFF_S - 20 and ev["plan"]["due_s"] == HANDOFF_S
    assert ev["switch"]["offset_s"] == HANDOFF_S and ev["switch"]["nodes"] == ["s0p0n1"]
    assert ev["undeploy_complete"]["node"] == "s0p0n2"
    assert run.dep.satellites == ["s0p0n1"] and run.sched.assignment == {"redmond": "s0p0n1"}
    rows = run.requests()
    bad = [r for r in rows if r["ok"] != "True"]
    assert not bad, "\n".join(map(str, bad + run.sched.events))
    assert {r["node"] for r in rows} == {"s0p0n2", "s0p0n1"}
    assert max(run.sched.decision_s) < 1.0


def test_a_failed_deployment_keeps_the_clients_and_is_retried(run):
    """The next satellite cannot be reached when the migration starts: the deployment
    fails and is reported, the client stays on the old satellite past the planned
    hand-off without a failed request, and once it is reachable the retry moves it."""
    addr = run.bench.clients["s0p0n1"].address
    rule = ["OUTPUT", "-d", addr, "-p", "tcp", "--dport", "8080", "-j", "DROP"]
    run.dep.ready_timeout_s = 0.5
    run.bench.iptables("-A", *rule)
    try:
        run.advance(26)                                    # past the planned hand-off
        kinds = [e["event"] for e in run.sched.events]
        assert "deploy_failed" in kinds
        assert run.sched.assignment == {"redmond": "s0p0n2"} and run.dep.satellites == ["s0p0n2"]
    finally:
        run.bench.iptables("-D", *rule)
    run.advance(3)
    assert run.sched.assignment == {"redmond": "s0p0n1"} and run.dep.satellites == ["s0p0n1"]
    rows = run.requests()
    assert not [r for r in rows if r["ok"] != "True"]
    assert {r["node"] for r in rows} == {"s0p0n2", "s0p0n1"}
