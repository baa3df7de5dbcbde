"""The ground scheduler against the predicted orbit, on the bench (22 Komet servers
named as the satellites of komet-live-cache, in a private namespace; no emulation, so
no live lock): the emulated clock is a number this test advances. A client process
follows the scheduler's WebSocket pushes and writes and reads throughout."""
import asyncio
import csv
import subprocess
import sys

from leonet.komet import make_strategy
from leonet.komet.apps import CACHE
from leonet.komet.migration import Deployment
from leonet.komet.platform import REPO, child_env, wait_for_line
from leonet.komet.scheduler import WS_PORT, GroundScheduler
from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine
from tests.conftest import require_binary, require_root

from .bench import Bench

HANDOFF_S = 40500 + 219            #: s0p0n2 -> s0p0n1 for Redmond (one-to-one 10 %, see test_live.py)


def test_scheduler_plans_from_the_orbit_and_moves_the_cache_without_a_failed_request(tmp_path):
    require_root()
    require_binary("redis-server")
    engine = TopologyEngine(load_constellation("komet-live-cache"))
    names = [s.name for s in engine.constellation.satellites]
    bench = Bench(tmp_path, names)
    clock = [HANDOFF_S - 25.0]
    try:
        dep = Deployment(CACHE, bench.clients.get)
        sched = GroundScheduler(engine, dep, make_strategy("one-to-one", 0.1), ["redmond"], lambda: clock[0],
                                lead_s=20)
        bench.loop.run(sched.serve("127.0.0.1", WS_PORT))
        bench.loop.run(sched.start(), 60)
        assert sched.assignment == {"redmond": "s0p0n2"}
        out = tmp_path / "requests.csv"
        client = subprocess.Popen(["ip", "netns", "exec", bench.netns, sys.executable, "-m", "apps.komet.client",
                                   "--scheduler", f"ws://127.0.0.1:{WS_PORT}/ws", "--client", "redmond",
                                   "--duration", "120", "--interval", "0.05", "--timeout", "0.5", "--out", str(out)],
                                  stdout=subprocess.PIPE, env=child_env(), cwd=str(REPO))
        assert wait_for_line(client, b"ready", 30)
        for _ in range(35):
            clock[0] += 1
            bench.loop.run(sched.tick(), 60)
            bench.loop.run(sched.deployed(), 60)
            bench.loop.run(asyncio.sleep(0.1))
        client.terminate()
        client.wait(20)
        ev = {e["event"]: e for e in sched.events}
        assert ev["plan"]["offset_s"] == HANDOFF_S - 20 and ev["plan"]["due_s"] == HANDOFF_S
        assert ev["switch"]["offset_s"] == HANDOFF_S and ev["switch"]["nodes"] == ["s0p0n1"]
        assert ev["undeploy_complete"]["node"] == "s0p0n2"
        assert dep.satellites == ["s0p0n1"] and sched.assignment == {"redmond": "s0p0n1"}
        with open(out, newline="") as fh:
            rows = list(csv.DictReader(fh))
        bad = [r for r in rows if r["ok"] != "True"]
        assert not bad, "\n".join(map(str, bad + sched.events))
        assert {r["node"] for r in rows} == {"s0p0n2", "s0p0n1"}
        assert max(sched.decision_s) < 1.0
        bench.loop.run(sched.close())
    finally:
        bench.close()
