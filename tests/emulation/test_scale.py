"""Scale: the five Starlink phase-I shells (4,409 satellites, 116 gateways, 4,525 nodes,
16,790 links) come up, tick and forward correctly, so scale cannot regress silently.

Bounded for CI: no delay backend (shaping is tested elsewhere) and routes towards the
ground stations only (525,000 routes instead of 20 million; all-pairs routes at this scale
are a benchmark's job, benchmarks/bench_realtime.py). Routes go through next-hop objects
(the default), so the ticks exercise their re-pointing at phase-I size.
"""
import subprocess

import numpy as np

from leonet.emulation import netns
from leonet.emulation.run import EmulationRun

from conftest import require_root


def test_starlink_phase1_comes_up_ticks_and_forwards_as_the_engine_says():
    require_root()
    run = EmulationRun.from_scenario("starlink-phase1", backend="none", routes="ground-stations")
    try:
        run.start()
        net = run.network
        assert len(net.nodes) == 4525
        operations = changed = 0
        for _ in range(5):
            info = run.controller.step()
            assert info.report.errors == []
            operations += info.report.route_operations
            changed += info.report.routes_changed
        assert operations <= changed
        check = net.self_check()
        assert check.problems == 0 and check.other_next_hops == 0, check.report()
        assert check.entries > 100_000
        # a packet between two gateways that the engine connects, over the emulated links
        snap = net.snapshot
        names = run.engine.nodes.names
        stations = np.arange(run.engine.nodes.num_satellites, len(names))
        a = names[stations[0]]
        reach = np.isfinite(snap.routes([stations[0]]).delay_ms[0, stations[1:]])
        b = names[stations[1:][reach][-1]]
        ping = subprocess.run(["nsenter", f"--net=/run/netns/{net.node(a).netns}", "--", "ping", "-c", "2",
                               "-i", "0.2", "-W", "2", net.node(b).address], capture_output=True, text=True,
                              timeout=60)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    finally:
        run.stop()
    assert not netns.list_namespaces(), "namespaces left behind"
