"""The routing self-check's judgement (no root: kernel tables built from the engine's routes and
changed by hand): equal-cost alternatives pass, detours, loops and black holes are reported; and
`leonet check` on live runs (root)."""
import contextlib
import copy
import re
import signal
import subprocess
import sys
import time
from typing import Iterator

import numpy as np
import pytest

from conftest import require_root
from leonet.emulation import runstate
from leonet.emulation.addressing import node_address_int
from leonet.emulation.selfcheck import TOLERANCE_MS, check_tables
from leonet.orbits import build_constellation, parse_scenario
from leonet.topology import TopologyEngine

from . import scenarios

PER_HOP_MS = 0.05
BASE = node_address_int(0)
LEONET = [sys.executable, "-m", "leonet.cli.main"]


@pytest.fixture(scope="module")
def world():
    engine = TopologyEngine(build_constellation(parse_scenario(scenarios.TINY)))
    snap = engine.snapshot(0.0)
    V = len(engine.nodes)
    dests = np.arange(V)
    routes = snap.routes(dests)
    return engine, snap, dests, routes


def tables_of(hops: np.ndarray, dests: np.ndarray):
    """Per node (destinations, gateways) as addresses, as the kernel dump gives them."""
    out = []
    for v in range(hops.shape[1]):
        has = hops[:, v] >= 0
        out.append(((BASE + dests[has]).astype(np.uint32), (BASE + hops[has, v]).astype(np.uint32)))
    return out


def judge(world, hops, snaps=None):
    engine, snap, dests, _ = world
    return check_tables(engine.nodes.names, dests, tables_of(hops, dests), snaps or [snap], PER_HOP_MS, "t")


def neighbours(snap, v):
    links = snap.links
    return [int(b) for a, b in zip(links.a, links.b) if a == v] + [int(a) for a, b in zip(links.a, links.b) if b == v]


def delay(snap, u, v):
    links = snap.links
    for a, b, d in zip(links.a, links.b, links.delay_ms):
        if {int(a), int(b)} == {u, v}:
            return float(d)
    raise KeyError((u, v))


def reaches_without(hops, i, start, avoid, dest):
    cur, seen = start, set()
    while cur != dest:
        if cur == avoid or cur in seen or cur < 0:
            return False
        seen.add(cur)
        cur = int(hops[i, cur])
    return True


def alternatives(world):
    """(row, node, other next hop, extra delay) for every neighbour that is not the engine's choice
    and whose own route does not come back through the node."""
    engine, snap, dests, routes = world
    hops = routes.next_hop_to_source
    out = []
    for v in range(engine.nodes.num_satellites):
        for i in range(0, len(dests), 7):
            d = int(dests[i])
            if d == v or hops[i, v] < 0:
                continue
            for alt in neighbours(snap, v):
                if alt != hops[i, v] and reaches_without(hops, i, alt, v, d):
                    extra = delay(snap, v, alt) + routes.delay_ms[i, alt] - routes.delay_ms[i, v]
                    out.append((i, v, alt, extra))
    return out


def test_the_engines_own_tables_pass(world):
    result = judge(world, world[3].next_hop_to_source.copy())
    assert result.problems == 0 and result.other_next_hops == 0, result.report()
    V = len(world[0].nodes)
    assert result.pairs == V * (V - 1) and result.entries == np.count_nonzero(world[3].next_hop_to_source >= 0)
    assert result.max_excess_ms < 1e-9
    assert "walked" in result.report()[0] and "tolerance 0.005 ms + 0.05 ms per hop" in result.report()[0]


def test_an_equal_cost_alternative_is_not_an_error_and_a_worse_one_is(world):
    engine, snap, dests, routes = world
    alts = alternatives(world)
    near = min(alts, key=lambda a: a[3])
    assert near[3] < TOLERANCE_MS + PER_HOP_MS, "the tiny grid has near-ties"
    hops = routes.next_hop_to_source.copy()
    i, v, alt, extra = near
    hops[i, v] = alt
    result = judge(world, hops)
    assert result.problems == 0 and result.other_next_hops == 1, result.report()
    worse = max(alts, key=lambda a: a[3])
    assert worse[3] > 1.0
    hops = routes.next_hop_to_source.copy()
    i, v, alt, extra = worse
    hops[i, v] = alt
    result = judge(world, hops)
    names = engine.nodes.names
    assert result.counts["detours"] >= 1 and result.counts["loops"] == result.counts["black_holes"] == 0
    assert any(line.startswith(f"detour: {names[v]} -> {names[int(dests[i])]}:") and f"+{extra:.3f} ms" in line
               for line in result.detours), result.detours
    # every node whose path to that destination passes through v takes the detour too
    assert result.counts["detours"] == sum(
        1 for u in range(len(names)) if u != dests[i] and v in _path(hops, i, u, int(dests[i])))


def _path(hops, i, start, dest):
    out, cur = [start], start
    while cur != dest and len(out) < 500:
        cur = int(hops[i, cur])
        out.append(cur)
    return out


def test_loops_and_black_holes(world):
    engine, snap, dests, routes = world
    names = engine.nodes.names
    hops = routes.next_hop_to_source.copy()
    i, v = 3, 40
    d = int(dests[i])
    nxt = int(hops[i, v])
    assert nxt >= 0 and nxt != d
    hops[i, nxt] = v  # v -> nxt -> v
    result = judge(world, hops)
    assert result.counts["loops"] >= 2 and any(line.startswith(f"loop: {names[v]} -> {names[d]}:")
                                               for line in result.loops), result.report()
    hops = routes.next_hop_to_source.copy()
    hops[i, nxt] = -1
    result = judge(world, hops)
    assert result.counts["black_holes"] >= 2 and result.counts["loops"] == 0
    assert any(f"{names[nxt]} has no route" in line for line in result.black_holes)
    far = next(u for u in range(engine.nodes.num_satellites) if u not in neighbours(snap, v) and u != v)
    hops = routes.next_hop_to_source.copy()
    hops[i, v] = far
    result = judge(world, hops)
    assert any(f"routes via {names[far]}, which is not its neighbour now" in line for line in result.black_holes)


def test_tables_read_across_a_tick_are_judged_against_both(world):
    """A route the run changed while the tables were read is right at one of the two ticks."""
    engine, snap, dests, routes = world
    later = engine.snapshot(120.0)
    new = later.routes(dests).next_hop_to_source
    mixed = routes.next_hop_to_source.copy()
    half = new.shape[1] // 2
    mixed[:, half:] = new[:, half:]
    alone = judge(world, mixed, [later])
    both = judge(world, mixed, [snap, later])
    assert both.problems <= alone.problems
    assert both.ticks == () and len(both.report()) >= 3


def test_leonet_check_on_a_live_run_reports_a_worse_route_and_not_a_near_tie(tmp_path):
    """`leonet check` from another shell: one route replaced by hand with a next hop whose path is
    longer is reported (with the pair); one replaced with an equal-cost alternative is not."""
    from leonet.emulation.addressing import interface_name, node_address
    with _leonet_run(scenarios.write(tmp_path)):
        record = runstate.active_run()
        engine = TopologyEngine(build_constellation(parse_scenario(scenarios.TINY)))
        snap = engine.snapshot(float(runstate.read_status()["offset_s"]))
        dests = np.arange(len(engine.nodes))
        world = (engine, snap, dests, snap.routes(dests))
        names = engine.nodes.names
        netns_of = {n["name"]: n["netns"] for n in record["nodes"]}

        def replace(i, v, alt):
            out = subprocess.run(["ip", "-n", netns_of[names[v]], "route", "replace",
                                  f"{node_address(int(dests[i]))}/32", "via", node_address(alt), "dev",
                                  interface_name(alt), "onlink"], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr

        out = _leonet_check()
        assert out.returncode == 0 and "no loops, no black holes, no detours" in out.stdout, out.stdout
        assert f"walked {len(names) * (len(names) - 1):,} (source, destination) pairs" in out.stdout, out.stdout
        alts = alternatives(world)
        i, v, alt, extra = min(alts, key=lambda a: a[3])
        assert extra < TOLERANCE_MS + PER_HOP_MS
        replace(i, v, alt)
        out = _leonet_check()
        assert out.returncode == 0, out.stdout
        assert "1 entries name another next hop than the engine's" in out.stdout, out.stdout
        i, v, alt, extra = max(alts, key=lambda a: a[3])
        replace(i, v, alt)
        out = _leonet_check()
        assert out.returncode == 1, out.stdout
        assert f"detour: {names[v]} -> {names[int(dests[i])]}:" in out.stdout, out.stdout
        assert "0 loops, 0 black holes" in out.stdout


@contextlib.contextmanager
def _leonet_run(scenario: str) -> Iterator[subprocess.Popen]:
    """`leonet run` of ``scenario`` in another process while the block runs, a tick every 1,000 s
    of wall time (the tables stay as the test leaves them); interrupted (Ctrl-C) at the end."""
    require_root()
    proc = subprocess.Popen(LEONET + ["run", scenario, "--backend", "none", "--speed", "0.001"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (runstate.active_run() or {}).get("pid") == proc.pid or not runstate.STATUS_FILE.exists():
            assert proc.poll() is None and time.time() < deadline, "leonet run did not come up"
            time.sleep(0.2)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert runstate.active_run() is None


def _leonet_check() -> subprocess.CompletedProcess:
    out = subprocess.run(LEONET + ["check"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def test_problems_of_a_mixed_reading_are_confirmed_by_a_second_one(world):
    """Tables read over several ticks can make a loop no tick has: the second reading (of the tables
    on the problem paths, within one tick) clears it; a problem that is really there stays."""
    engine, snap, dests, routes = world
    names = engine.nodes.names
    good = routes.next_hop_to_source
    mixed = good.copy()
    i, v = 3, 40
    nxt = int(mixed[i, v])
    mixed[i, nxt] = v  # a loop in the first reading only
    calls = []

    def reread(nodes):
        calls.append(list(nodes))
        return {n: tables_of(good, dests)[n] for n in nodes}, snap, 7
    result = check_tables(names, dests, tables_of(mixed, dests), [snap], PER_HOP_MS, "t", reread=reread)
    assert result.problems == 0 and result.first_reading["loops"] >= 2, result.report()
    assert v in calls[0] and nxt in calls[0] and len(calls[0]) < len(names) // 2
    assert "a second reading of the" in "\n".join(result.report()) and "at tick 7 confirmed 0" in \
        "\n".join(result.report())
    still = check_tables(names, dests, tables_of(mixed, dests), [snap], PER_HOP_MS, "t",
                         reread=lambda nodes: ({n: tables_of(mixed, dests)[n] for n in nodes}, snap, 8))
    assert still.counts["loops"] == result.first_reading["loops"]


def test_leonet_check_reads_a_bpf_forwarding_table_and_reports_a_missing_rule(tmp_path):
    """`leonet check` from another shell on a run with emulation.forwarding_table: ebpf: it reads the
    tables from the run's BPF map (no routes to read) and finds them exact; with one node's rule for a
    neighbour deleted by hand, the destinations that node sends that way are black holes."""
    raw = copy.deepcopy(scenarios.TINY)
    raw.setdefault("emulation", {})["forwarding_table"] = "ebpf"
    with _leonet_run(scenarios.write(tmp_path, raw)):
        assert runstate.read_status()["forwarding_map_id"]
        names = [n["name"] for n in runstate.active_run()["nodes"]]
        netns = [n["netns"] for n in runstate.active_run()["nodes"]]
        out = _leonet_check()
        assert out.returncode == 0 and "no loops, no black holes, no detours" in out.stdout, out.stdout
        assert f"walked {len(names) * (len(names) - 1):,} (source, destination) pairs" in out.stdout, out.stdout
        rules = subprocess.run(["ip", "-n", netns[0], "rule", "show", "pref", "100"], capture_output=True,
                               text=True).stdout
        mark = re.search(r"fwmark (0x[0-9a-f]+) lookup (\d+)", rules)
        assert mark, rules
        subprocess.run(["ip", "-n", netns[0], "rule", "del", "pref", "100", "fwmark", mark.group(1), "lookup",
                        mark.group(2)], check=True)
        out = _leonet_check()
        assert out.returncode == 1 and f"black hole: {names[0]} -> " in out.stdout, out.stdout
