"""The paper's IoT and CDN applications (apps/komet/functions/{sensors,cdn,cdndelete},
apps/komet/origin.py) on real Komet servers, Redis keygroups and function processes in
a private network namespace of this test (no emulation: no live lock). Their live runs
are experiments/komet_fig10.py and komet_fig12.py."""
import asyncio
import json
import subprocess
import sys

import pytest

from apps.komet.catalog import path_of, size_of
from leonet.komet.apps import CDN, IOT
from leonet.komet.migration import Deployment
from leonet.komet.nodeapi import NodeError
from leonet.komet.platform import _terminate, child_env
from leonet.waiting import wait_for_line
from tests.conftest import require_binary, require_root

from .bench import Bench

ORIGIN = "127.0.1.9"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    require_root()
    require_binary("redis-server")
    b = Bench(tmp_path_factory.mktemp("komet-apps"), ["s0", "s1"])
    origin = subprocess.Popen(["ip", "netns", "exec", b.netns, sys.executable, "-m", "apps.komet.origin",
                               "--host", ORIGIN], stdout=subprocess.PIPE, env=child_env())
    try:
        assert wait_for_line(origin, b"ready", 30)
        yield b
    finally:
        _terminate(origin)
        b.close()


def test_iot_function_scores_every_buoy_and_serves_the_same_state_after_migration(bench):
    async def run():
        dep = Deployment(IOT, bench.clients.get)
        await dep.add("s0")
        s0, s1 = bench.clients["s0"], bench.clients["s1"]
        values = {"21413": 12.5, "46404": 30.0, "46d16": 3.0}
        for name, v in values.items():
            r = float(await s0.invoke("sensors", json.dumps({"name": name, "value": v})))
            assert 0.0 < r < 1.0
        for _ in range(50):                        # the writes are asynchronous, as the artifact's
            if (await s0.keygroup("sensors"))["keys"] == 3:
                break
            await asyncio.sleep(0.1)
        assert (await s0.keygroup("sensors"))["keys"] == 3
        await dep.add("s1", source="s0")
        again = json.dumps({"name": "21413", "value": 12.5})
        at_new, at_old = await s1.invoke("sensors", again), await s0.invoke("sensors", again)
        assert at_new == at_old                    # same stored values, same model: same answer
        await dep.remove("s0")                      # s1 becomes the primary
        assert dep.satellites == ["s1"]
        assert float(await s1.invoke("sensors", json.dumps({"name": "46401", "value": 20.0}))) > 0
        with pytest.raises(NodeError, match="400|500"):
            await s1.invoke("sensors", "not json")  # the function's error is the caller's 500
        for fn in IOT.functions:
            await s1.delete_function(fn)
        for kg in IOT.keygroups:
            await s1.delete_keygroup(kg)
    bench.loop.run(run(), 120)


def test_cdn_misses_go_to_the_origin_hits_come_from_any_replica_and_the_trimmer_keeps_the_recent(bench):
    async def run():
        import redis.asyncio as aioredis
        dep = Deployment(CDN.with_env(KOMET_ORIGIN=f"{ORIGIN}:8000"), bench.clients.get)
        await dep.add("s0")
        await dep.add("s1", source="s0")
        s0, s1 = bench.clients["s0"], bench.clients["s1"]
        path = path_of(7)
        first = await s0.invoke("cdn", path)
        assert first[-1] == "0" and len(first) - 1 == size_of(path)          # a miss: from the origin
        for _ in range(50):
            if (await s1.keygroup("cdn"))["keys"] == 1:
                break
            await asyncio.sleep(0.1)
        assert (await s0.invoke("cdn", path))[-1] == "1"                     # a hit, where it was stored
        assert (await s1.invoke("cdn", path)) == first[:-1] + "1"            # and at the other replica
        for _ in range(50):                                                  # every request logged
            if (await s0.keygroup("log"))["keys"] == 3:
                break
            await asyncio.sleep(0.1)
        assert (await s0.keygroup("log"))["keys"] == 3
        with pytest.raises(NodeError, match="500"):
            await s0.invoke("cdn", "no-such-item")                           # the origin's 404

        host, port = dep.ports[("s0", "cdn")].rsplit(":", 1)
        r = aioredis.Redis(host=host, port=int(port), decode_responses=True)
        host, port = dep.ports[("s0", "log")].rsplit(":", 1)
        log = aioredis.Redis(host=host, port=int(port), decode_responses=True)
        await r.flushall()
        await log.flushall()
        await r.mset({f"k{i}": "x" for i in range(1100)})
        await log.mset({str(10 ** 12 + i): f"k{i}" for i in range(600)})     # k599 requested last
        assert await s0.invoke("cdndelete", "") == "deleted 600"
        assert sorted(await r.keys("*"), key=lambda k: int(k[1:])) == [f"k{i}" for i in range(100, 600)]
        assert await s0.invoke("cdndelete", "") == "kept 500"
        await r.aclose()
        await log.aclose()
        await dep.remove("s1")
        for fn in CDN.functions:
            await s0.delete_function(fn)
        for kg in CDN.keygroups:
            await s0.delete_keygroup(kg)
    bench.loop.run(run(), 120)


def test_cdn_clients_follow_a_many_to_many_scheduler_without_a_failed_request(tmp_path, small_engine):
    """The fleet of CDN clients (apps/komet/fleet.py) behind the ground scheduler running
    many-to-many on the small scenario's predicted orbits: several replicas at once,
    replicas added and removed while the clients request, none of them failing."""
    require_root()
    require_binary("redis-server")
    from leonet.komet import make_strategy
    from leonet.komet.scheduler import WS_PORT, GroundScheduler
    clients = ["portland", "boise", "seattle"]
    b = Bench(tmp_path, [s.name for s in small_engine.constellation.satellites])
    origin = subprocess.Popen(["ip", "netns", "exec", b.netns, sys.executable, "-m", "apps.komet.origin",
                               "--host", "127.0.2.1"], stdout=subprocess.PIPE, env=child_env())
    clock = [100.0]
    dep = Deployment(CDN.with_env(KOMET_ORIGIN="127.0.2.1:8000"), b.clients.__getitem__)
    sched = GroundScheduler(small_engine, dep, make_strategy("many-to-many", 0.25), clients, lambda: clock[0],
                            lead_s=5)
    fleet = None
    try:
        assert wait_for_line(origin, b"ready", 30)
        b.loop.run(sched.serve("127.0.0.1", WS_PORT))
        b.loop.run(sched.start(), 60)
        first = set(sched.assignment.values())
        (tmp_path / "clients.json").write_text(json.dumps([{"name": c, "netns": ""} for c in clients]))
        fleet = subprocess.Popen(["ip", "netns", "exec", b.netns, sys.executable, "-m", "apps.komet.fleet",
                                  "--workload", "cdn", "--clients", str(tmp_path / "clients.json"), "--scheduler",
                                  f"ws://127.0.0.1:{WS_PORT}/ws", "--duration", "60", "--interval", "0.2",
                                  "--timeout", "2",                # correctness here, not latency
                                  "--out", str(tmp_path / "requests.csv")], stdout=subprocess.PIPE,
                                 env=child_env())
        assert wait_for_line(fleet, b"ready", 30)
        for _ in range(40):
            clock[0] += 2
            b.loop.run(sched.tick(), 60)
            b.loop.run(sched.deployed(), 60)
            b.loop.run(asyncio.sleep(0.2))
        fleet.terminate()
        assert fleet.wait(30) == 0
    finally:
        if fleet is not None and fleet.poll() is None:
            fleet.kill()
        b.loop.run(sched.close())
        _terminate(origin)
        b.close()
    kinds = [e["event"] for e in sched.events]
    assert kinds.count("switch") >= 2 and "undeploy_complete" in kinds, sched.events
    assert len(first) >= 2 or max(len(e["nodes"]) for e in sched.events if e["event"] == "switch") >= 2
    import csv
    with open(tmp_path / "requests.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [r for r in rows if r["ok"] != "True"]
    assert len(rows) > 50 and not bad, bad[:5]
    assert len({r["node"] for r in rows}) >= 3                 # served by several satellites over time
    assert {r["hit"] for r in rows} == {"0", "1"}
