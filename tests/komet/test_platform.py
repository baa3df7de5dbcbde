"""The Komet servers (apps/komet/nodehost.py) and the migration procedure, on real
Redis servers and function processes, in a private network namespace of this test
(three satellites on 127.0.1.x; no emulation, so no live lock). The same code over the
emulated links is tests/komet/test_live.py."""
import asyncio
import json

import pytest

from leonet.komet.apps import CACHE, CRASH
from leonet.komet.migration import Deployment, MigrationError
from leonet.komet.nodeapi import NodeError
from tests.conftest import require_binary, require_root

from .bench import Bench


@pytest.fixture(scope="module")
def shared_bench(tmp_path_factory):
    require_root()
    require_binary("redis-server")
    b = Bench(tmp_path_factory.mktemp("komet-platform"), [f"s{i}" for i in range(3)])
    yield b
    b.close()


async def _clear(b: Bench) -> None:
    """Every satellite empty again (what a test left behind)."""
    for node in b.clients.values():
        st = await node.status()
        for fn in st["functions"]:
            await node.delete_function(fn)
        for kg in st["keygroups"]:
            await node.delete_keygroup(kg)


@pytest.fixture
def bench(shared_bench):
    shared_bench.loop.run(_clear(shared_bench), 60)
    return shared_bench


def test_function_runtime_deploy_invoke_delete_and_crashes(bench):
    async def run():
        s0 = bench.clients["s0"]
        d = Deployment(CRASH, bench.clients.get)
        t = await d.add("s0")
        assert 0 < t["cold_start_s"] < 20
        assert await s0.invoke("crash", "hello") == "hello"
        with pytest.raises(NodeError, match="500.*asked to raise"):
            await s0.invoke("crash", "raise")
        assert await s0.invoke("crash", "still") == "still"          # an exception does not end it
        with pytest.raises(NodeError, match="502"):
            await s0.invoke("crash", "exit")                           # the process dies
        for _ in range(100):                                           # ... and is started again
            kinds = [e["event"] for e in await s0.events()]
            if "function_restarted" in kinds:
                break
            await asyncio.sleep(0.1)
        assert kinds[:2] == ["function_crashed", "function_restarted"]
        assert await s0.invoke("crash", "back") == "back"
        await s0.delete_function("crash")
        with pytest.raises(NodeError, match="404"):
            await s0.invoke("crash", "gone")
        await s0.delete_keygroup("simple")
        assert (await s0.status())["keygroups"] == {}
    bench.loop.run(run(), 120)


async def _client(node_of, stop: asyncio.Event, log: list) -> None:
    """Write then read a counter, as fast as it answers, at whichever satellite
    ``node_of()`` names at the time (what the scheduler's push would say)."""
    i = 0
    while not stop.is_set():
        node = node_of()
        try:
            await node.invoke("put", json.dumps({"key": f"k{i}", "value": str(i)}), timeout_s=2)
            got = await node.invoke("get", f"k{i}", timeout_s=2)
            log.append((node.name, i, got == str(i), ""))
        except NodeError as exc:
            log.append((node.name, i, False, str(exc)))
        i += 1
        await asyncio.sleep(0.005)


def test_migration_under_load_loses_nothing(bench):
    """§3.1: replicate to the next satellite, start the functions, switch the client,
    remove the old; twice, with a client writing and reading throughout."""
    async def run():
        d = Deployment(CACHE, bench.clients.get)
        await d.add("s0")
        serving = ["s0"]
        stop, log = asyncio.Event(), []
        task = asyncio.create_task(_client(lambda: bench.clients[serving[0]], stop, log))
        await asyncio.sleep(0.5)
        for old, new in (("s0", "s1"), ("s1", "s2")):
            await d.add(new, source=old)
            await asyncio.sleep(0.3)                   # both replicas serve meanwhile
            serving[0] = new                           # the clients switch
            await asyncio.sleep(0.3)
            await d.remove(old)
            await asyncio.sleep(0.5)
        stop.set()
        await task
        failed = [r for r in log if not r[2]]
        assert not failed, failed[:5]
        assert {r[0] for r in log} == {"s0", "s1", "s2"}
        n = len(log)
        assert n > 50
        s2 = bench.clients["s2"]
        for i in range(n):                              # every acknowledged write is at the last one
            assert await s2.invoke("get", f"k{i}") == str(i)
        st = await s2.keygroup("simple")
        assert st["role"] == "master" and st["keys"] == n
        for s in ("s0", "s1"):
            assert "simple" not in (await bench.clients[s].status())["keygroups"]
        for fn in CACHE.functions:
            await s2.delete_function(fn)
        await s2.delete_keygroup("simple")
    bench.loop.run(run(), 180)


def test_reads_follow_the_primary_after_it_was_removed(bench):
    """Komet Fig. 12's failure: a function reads an item its replica does not hold, so
    it asks the primary (and remembers where that is); the primary's satellite is then
    removed (the role moves to s1). Misses must keep answering at once (before, every
    one asked the removed primary and failed), writes must reach the new primary, and
    a primary that does not answer at all costs one socket timeout, not one per miss."""
    import time

    async def run():
        d = Deployment(CACHE, bench.clients.get)
        await d.add("s0")
        await d.add("s1", source="s0")
        await d.add("s2", source="s1")                # a chain: s2 follows s1 follows s0
        s0, s2 = bench.clients["s0"], bench.clients["s2"]
        await s0.invoke("put", json.dumps({"key": "old", "value": "v0"}))
        assert await s2.invoke("get", "missing-1") == ""   # asks s0, the primary, and caches it
        await d.remove("s0")                              # s1 takes the primary role
        assert (await bench.clients["s1"].keygroup("simple"))["role"] == "master"
        for i in range(5):
            t0 = time.perf_counter()
            assert await s2.invoke("get", f"missing-after-{i}", timeout_s=5) == ""
            assert time.perf_counter() - t0 < 1.0
        await s2.invoke("put", json.dumps({"key": "new", "value": "v1"}), timeout_s=5)
        assert await s2.invoke("get", "new", timeout_s=5) == "v1"
        assert await s2.invoke("get", "old", timeout_s=5) == "v0"

        # the primary stops answering (its packets dropped, no re-point): one miss waits
        # for the socket timeout and answers the local miss, the next ones do not wait
        s1_port = d.ports[("s1", "simple")].rpartition(":")[2]
        rule = ["OUTPUT", "-d", bench.clients["s1"].address, "-p", "tcp", "--dport", s1_port, "-j", "DROP"]
        bench.iptables("-A", *rule)
        try:
            t0 = time.perf_counter()
            assert await s2.invoke("get", "missing-dropped-0", timeout_s=10) == ""
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            for i in range(1, 4):
                assert await s2.invoke("get", f"missing-dropped-{i}", timeout_s=10) == ""
            assert (time.perf_counter() - t0) / 3 < 0.5, first
        finally:
            bench.iptables("-D", *rule)
    bench.loop.run(run(), 120)


def test_replication_cut_by_a_link_fault_falls_back_to_the_old_replica(bench):
    """The link between the two satellites fails while the keygroup is being copied:
    the migration reports it, undoes itself on the new satellite, the old one keeps
    serving every acknowledged write; once the link is back the migration succeeds."""
    rule = ["INPUT", "-s", "127.0.1.1", "-d", "127.0.1.2", "-p", "tcp", "--sport", "6400", "-j", "DROP"]

    async def run():
        d = Deployment(CACHE, bench.clients.get, sync_timeout_s=3.0)
        s0, s1 = bench.clients["s0"], bench.clients["s1"]
        await d.add("s0")
        assert await s0.invoke("put_count", json.dumps({"count": 40}), timeout_s=60) == "40"   # 40 MB
        bench.iptables("-A", *rule)
        try:
            with pytest.raises(MigrationError) as err:
                await d.add("s1", source="s0")
        finally:
            bench.iptables("-D", *rule)
        assert err.value.step == "replication" and err.value.node == "s1"
        assert "simple" not in (await s1.status())["keygroups"]          # undone
        assert d.satellites == ["s0"]
        await s0.invoke("put", json.dumps({"key": "after", "value": "x"}))
        st = await s0.keygroup("simple")
        assert st["role"] == "master" and st["keys"] == 41
        t = await d.add("s1", source="s0")
        assert t["replication_s"] > 0
        await d.remove("s0")
        assert await s1.invoke("get", "after") == "x"
        assert (await s1.keygroup("simple"))["keys"] == 41
    bench.loop.run(run(), 240)


def test_replication_time_grows_with_the_data_size(bench):
    """Fig. 8's claim in small: copying a keygroup to a new replica takes longer the
    more it holds (0 vs 80 MB; the copy crosses a socket between two Redis servers)."""
    async def replicate(mb: int) -> float:
        d = Deployment(CACHE, bench.clients.get)
        await d.add("s0")
        if mb:
            await bench.clients["s0"].invoke("put_count", json.dumps({"count": mb}), timeout_s=120)
        t = await d.add("s1", source="s0")
        assert (await bench.clients["s1"].keygroup("simple"))["keys"] == mb
        for sat in ("s1", "s0"):
            for fn in CACHE.functions:
                await bench.clients[sat].delete_function(fn)
            await bench.clients[sat].delete_keygroup("simple")
        return t["replication_s"]

    empty = min(bench.loop.run(replicate(0), 60) for _ in range(2))
    full = bench.loop.run(replicate(80), 180)
    print(f"replication: 0 MB {empty:.3f} s, 80 MB {full:.3f} s")
    assert full > empty + 0.1, (empty, full)


def test_stop_copy_restart_baseline_moves_the_whole_keygroup(bench):
    """The container baseline of Fig. 2 where CRIU cannot run: checkpoint (save and stop
    the server), copy the file to the next satellite, restart it there."""
    async def run():
        d = Deployment(CACHE, bench.clients.get)
        s0, s1 = bench.clients["s0"], bench.clients["s1"]
        await d.add("s0")
        await s0.invoke("put_count", json.dumps({"count": 5}), timeout_s=60)
        for fn in CACHE.functions:
            await s0.delete_function(fn)
        ck = await s0.checkpoint_keygroup("simple")
        assert ck["bytes"] > 5 * 2 ** 20
        st = await s0.status()
        assert st["keygroups"]["simple"]["alive"] is False            # stopped: the downtime begins
        ans = await s1.restore_keygroup("simple", s0)
        assert ans["transfer_s"] > 0 and ans["started_s"] > 0
        assert (await s1.keygroup("simple"))["keys"] == 5
        await s0.delete_keygroup("simple")
        await s1.delete_keygroup("simple")
    bench.loop.run(run(), 120)
