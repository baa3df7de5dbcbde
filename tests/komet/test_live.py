"""Komet on the live emulation (root; run under the live lock): one plane of 22
satellites over Redmond, every satellite running its Komet server, the ground
scheduler in Redmond driving the one-to-one strategy from the predicted orbits, a
client process in Redmond writing and reading throughout. All requests, replication
and control calls cross the emulated links."""
import csv
import json

import aiohttp
import pytest

from leonet import LeoNet
from leonet.komet import make_strategy
from leonet.komet.apps import CACHE
from leonet.komet.migration import Deployment, MigrationError
from leonet.komet.nodeapi import NodeClient
from leonet.komet.platform import KometPlatform
from leonet.waiting import wait_for_line
from leonet.komet.scheduler import WS_PORT, GroundScheduler

from tests.conftest import require_binary, require_root

#: 29 s before the first hand-off of the 15-minute run (s0p0n2 -> s0p0n1 at +219 s)
START_S = 40500 + 190


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_root()
    require_binary("redis-server")
    net = LeoNet("komet-live-cache", clock="manual", offset_s=START_S, progress=False)
    with net, KometPlatform(net, workdir=tmp_path_factory.mktemp("komet-live")) as komet:
        ground = komet.loop("redmond")
        session = ground.run(_session())
        clients = {s: NodeClient(session, s, komet.address(s)) for s in net.satellites}
        yield net, komet, ground, clients
        ground.run(session.close())


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_scheduler_migrates_against_the_orbit_without_a_failed_request(live, tmp_path):
    net, komet, ground, clients = live
    dep = Deployment(CACHE, clients.get)
    sched = GroundScheduler(net.run.engine, dep, make_strategy("one-to-one", 0.1), ["redmond"],
                            lambda: net.offset_s, lead_s=20)
    ground.run(sched.serve(komet.address("redmond")))
    ground.run(sched.start(), 120)
    assert sched.assignment == {"redmond": "s0p0n2"}
    out = tmp_path / "requests.csv"
    client = komet.spawn("redmond", ["-m", "apps.komet.client", "--scheduler",
                                     f"ws://{komet.address('redmond')}:{WS_PORT}/ws", "--client", "redmond",
                                     "--duration", "600", "--interval", "0.2", "--timeout", "0.5",
                                     "--out", str(out)], "client.log")
    assert wait_for_line(client, b"ready", 30)
    for _ in range(45):                                  # 45 emulated s, across the hand-off
        net.advance(1)
        ground.run(sched.tick(), 120)
        ground.run(sched.deployed(), 120)             # deployments take real time; the clock waits
    client.terminate()
    client.wait(20)
    kinds = [e["event"] for e in sched.events]
    assert "switch" in kinds and "undeploy_complete" in kinds, sched.events
    assert sched.assignment == {"redmond": "s0p0n1"}
    assert dep.satellites == ["s0p0n1"]
    rows = _rows(out)
    failed = [r for r in rows if r["ok"] != "True"]
    assert not failed, failed[:5]
    assert {r["node"] for r in rows} == {"s0p0n2", "s0p0n1"}
    assert len(rows) >= 10                                # the manual clock runs fast: a few seconds
    new = clients["s0p0n1"]
    written = [r for r in rows if r["kind"] == "put"]
    for i in range(len(written)):                         # every acknowledged write is at the new satellite
        assert ground.run(new.invoke("get", f"redmond-{i}")) == str(i)
    switch = next(e for e in sched.events if e["event"] == "switch" and e["offset_s"] > START_S + 1)
    assert abs(switch["offset_s"] - (40500 + 219)) <= 2
    assert max(sched.decision_s) < 1.0                    # far below the 20 s lead time
    ground.run(sched.close())
    for fn in CACHE.functions:
        ground.run(new.delete_function(fn))
    ground.run(new.delete_keygroup("simple"))


def test_satellite_killed_mid_replication_leaves_the_old_replica_serving(live):
    """The next satellite dies while it receives a 60 MB keygroup: the migration fails
    and is undone, the old satellite still serves every acknowledged write."""
    net, komet, ground, clients = live
    dep = Deployment(CACHE, clients.get, sync_timeout_s=15)
    old, new = "s0p0n1", "s0p0n0"
    ground.run(dep.add(old), 60)
    a = clients[old]
    assert ground.run(a.invoke("put_count", json.dumps({"count": 60}), timeout_s=120), 130) == "60"

    job = ground.submit(dep.add(new, source=old))
    for _ in range(200):                                  # until the copy is under way
        if "simple" in ground.run(clients[new].status())["keygroups"]:
            break
    net.fault("kill", new)                                # from this thread: the root namespace
    with pytest.raises(MigrationError) as info:
        job.result(120)
    err = info.value
    assert err.node == new
    assert dep.satellites == [old]
    ground.run(a.invoke("put", json.dumps({"key": "after", "value": "x"})))
    st = ground.run(a.keygroup("simple"))
    assert st["role"] == "master" and st["keys"] == 61
    assert ground.run(a.invoke("get", "after")) == "x"
    net.fault("restart", new)
