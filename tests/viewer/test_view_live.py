"""The live view of a real run (root): what the page shows is the run's state -- its node
count, its emulated clock, a failed link, and which plane owns each satellite through
the ownership hook -- read in headless Chromium, with a screenshot written."""
import asyncio
import shutil

import aiohttp
import pytest

from leonet import LeoNet, Station, Walker, build_scenario
from leonet.viewer import register_ownership_source, unregister_ownership_source

from conftest import require_root


def nearest_plane(run):
    """Each satellite owned by the ground station with the least path delay now (a
    stand-in for a control plane's assignment, read from the live snapshot)."""
    snap = run.network.snapshot
    n = snap.nodes.num_satellites
    tables = snap.routes_from_ground_stations()
    stations = snap.nodes.names[n:]
    return {snap.nodes.names[i]: stations[int(tables.delay_ms[:, i].argmin())] for i in range(n)}


async def _frame(url):
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "api/frame?path=Berlin,Madrid") as r:
            return await r.json()


def test_the_view_shows_the_runs_clock_nodes_faults_and_owners(tmp_path):
    require_root()
    if shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium (scripts/test.sh installs it)")
    from leonet.viewer.browser import look_at
    scenario = build_scenario(
        "view", start="2026-01-31T12:00:00Z", defaults={"min_elevation_deg": 10},
        shells=[Walker("shell", planes=6, sats_per_plane=8, altitude_km=1200, inclination_deg=53)],
        ground_stations=[Station("Berlin", 52.52, 13.405), Station("Madrid", 40.42, -3.70)],
        topology={"gsl": {"policy": "nearest"}})
    register_ownership_source("test-nearest-plane", nearest_plane)
    try:
        with LeoNet(scenario, clock="manual", backend="none", progress=False) as net:
            url = net.serve_view(port=0, path=("Berlin", "Madrid"))
            net.advance(3)
            hops = net.path("Berlin", "Madrid").hops
            net.fault("fail-link", hops[1], hops[2])
            net.advance(2)
            frame = asyncio.run(_frame(url))
            assert frame["tick"] == net.status()["tick"] and frame["counts"]["failed_links"] == 1
            assert frame["owner_source"] == "test-nearest-plane"
            assert set(frame["owners"]["labels"]) <= {"Berlin", "Madrid"} and -1 not in frame["owners"]["of"]
            assert (hops[1], hops[2]) not in zip(frame["path"]["names"], frame["path"]["names"][1:])
            page = look_at(url, tmp_path / "live.png", timeout_s=60, min_tick=frame["tick"])
            assert page.node_count == "50" and page.status == "live"
            assert page.clock == net.time.strftime("%Y-%m-%d %H:%M:%S UTC")
            assert (tmp_path / "live.png").stat().st_size > 20_000
    finally:
        unregister_ownership_source("test-nearest-plane")
