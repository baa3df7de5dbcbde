"""The live view's server over HTTP and WebSocket (no root, no browser), and the page in
a real headless Chromium (skipped where Chromium is not installed)."""
import asyncio
import json
import shutil

import aiohttp
import pytest

from leonet.errors import ConfigError
from leonet.orbits import build_constellation, load_scenario
from leonet.topology import TopologyEngine
from leonet.viewer import EngineSource, ViewServer

from tests.emulation.scenarios import write


@pytest.fixture
def served(tmp_path):
    scenario = load_scenario(write(tmp_path))
    source = EngineSource(TopologyEngine(build_constellation(scenario)), scenario.name, step_s=5.0)
    server = ViewServer(source, port=0, default_path=("Berlin", "Madrid"))
    server.start()
    yield source, server
    server.close()


async def _session(url, source):
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "api/static") as r:
            static = await r.json()
        async with http.get(url + "api/frame?path=Berlin,Madrid") as r:
            frame = await r.json()
        async with http.get(url + "api/frame?path=Berlin") as r:
            bad = r.status
        async with http.get(url + "vendor/plotly.min.js") as r:
            plotly = (await r.read())[:300]
        async with http.get(url + "topojson/world_110m.json") as r:
            topo = await r.json()
        async with http.ws_connect(url + "ws") as ws:
            first = json.loads((await ws.receive(timeout=10)).data)
            f0 = json.loads((await ws.receive(timeout=10)).data)
            source.advance()
            f1 = json.loads((await ws.receive(timeout=10)).data)
            await ws.send_str(json.dumps({"path": ["Madrid", "s0p0n0"]}))
            f2 = json.loads((await ws.receive(timeout=10)).data)
            await ws.send_str(json.dumps({"path": ["Madrid"]}))
            err = json.loads((await ws.receive(timeout=10)).data)
    return static, frame, bad, plotly, topo, first, f0, f1, f2, err


def test_http_and_websocket_serve_static_frames_and_paths(served):
    source, server = served
    static, frame, bad, plotly, topo, first, f0, f1, f2, err = asyncio.run(_session(server.url, source))
    assert static["scenario"] == "tiny" and static["num_satellites"] == 80 and len(static["names"]) == 82
    assert frame["counts"]["nodes"] == 82 and frame["path"]["names"][0] == "Berlin"
    assert bad == 400
    assert b"plotly.js" in plotly
    assert topo["type"] == "Topology"
    assert first["type"] == "static" and first["default_path"] == ["Berlin", "Madrid"]
    assert f1["tick"] == f0["tick"] + 1 and f1["offset_s"] == f0["offset_s"] + 5.0   # pushed at the tick
    assert f0["path"]["from"] == "Berlin"
    assert f2["path"]["from"] == "Madrid" and f2["path"]["to"] == "s0p0n0"
    assert err["type"] == "error" and "two node names" in err["error"]


def test_a_busy_port_is_a_config_error(served):
    source, server = served
    with pytest.raises(ConfigError, match="in use"):
        ViewServer(source, port=server.port).start()


def test_a_busy_view_port_is_refused_before_a_run_brings_anything_up(served):
    """`leonet run --view PORT` / `leonet demo --view PORT` check the port while parsing, not
    after a bring-up of minutes (the server binds only then)."""
    from leonet.cli.view_cmds import check_port
    _, server = served
    with pytest.raises(ConfigError, match=r"--view: is in use on this machine .*fix: give another port"):
        check_port(server.port)
    with pytest.raises(ConfigError, match="--view: must be"):
        check_port(70000)


def test_the_page_shows_node_count_and_time_in_a_headless_browser(served, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium (scripts/test.sh installs it)")
    from leonet.viewer.browser import look_at
    source, server = served
    page = look_at(server.url + "?path=Berlin,Madrid", tmp_path / "view.png", timeout_s=60)
    tick = source.current()[1]
    assert page.node_count == "82" and page.status == "live"
    assert page.clock.startswith("2026-01-31 12:") and page.clock.endswith(" UTC")
    assert page.tick <= tick and "Berlin -> Madrid" in page.path_info
    assert (tmp_path / "view.png").stat().st_size > 20_000
