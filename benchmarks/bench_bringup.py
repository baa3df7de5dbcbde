"""Bring-up and teardown of a whole constellation: leonet against stock Mininet
(addHost + addLink + build + stop) for the same graph, in the same process.

Default graph: Starlink shell 1 + the 116 gateways at the scenario start
(about 1,700 hosts and 4,600 links). Stock Mininet gets no IPs, routes or shaping;
leonet's figure is given both without routes (like for like) and with all-pairs routes;
``--backend nfqueue`` adds the delay backend's shaping (the issue-16 target: nodes, links,
shaping and routes), with the time its rules, queues and rate limiters took.

    sudo python benchmarks/bench_bringup.py [--scenario starlink-shell1] [--skip-stock] [--backend none|nfqueue]
        [--route-prefixes aggregate|host]
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.emulation import runstate  # noqa: E402
from leonet.emulation.cleanup import cleanup  # noqa: E402
from leonet.errors import LeonetError  # noqa: E402
from leonet.emulation.config import EmulationConfig  # noqa: E402
from leonet.emulation.lookahead import Lookahead  # noqa: E402
from leonet.emulation.network import LeoNetwork  # noqa: E402
from leonet.emulation.nodes import NamespaceNodeFactory  # noqa: E402
from leonet.emulation.shaping.factory import make_shaper  # noqa: E402
from leonet.orbits import load_constellation  # noqa: E402
from leonet.topology import TopologyEngine  # noqa: E402


def used_mb() -> float:
    """Host memory in use (MemTotal - MemAvailable), which includes kernel objects."""
    info = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            key, value = line.split(":")
            info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024.0


class _Timed:
    """Wall time spent in a wrapped callable (benchmark-only instrumentation)."""

    def __init__(self, owner, name: str):
        self.seconds, self.owner, self.name = 0.0, owner, name
        self.first = self.last = None     #: the first call's start, the last one's end
        self.inner = getattr(owner, name)
        setattr(owner, name, self)

    def __call__(self, *args, **kwargs):
        t = time.perf_counter()
        self.first = self.first or t
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.last = time.perf_counter()
            self.seconds += self.last - t


def bench_leonet(engine: TopologyEngine, snap, backend: str, route_prefixes: str, forwarding_table: str) -> dict:
    stages: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages.setdefault(stage, [time.perf_counter(), None])[1] = time.perf_counter()

    shaper = make_shaper(backend)
    shaping = {}
    if backend != "none":
        shaping = {"attach": _Timed(shaper, "attach"), "rules": _Timed(shaper._rules, "apply"),
                   "rate limiters": _Timed(shaper._qdiscs, "apply")}
    net = LeoNetwork(engine, EmulationConfig(backend=backend, route_prefixes=route_prefixes,
                                             forwarding_table=forwarding_table), shaper,
                     NamespaceNodeFactory())
    # As `leonet run` (EmulationController): the lookahead's worker computes the first table
    # from scratch while the nodes are made, and the network installs what it computed.
    lookahead = Lookahead.for_network(engine, net)
    mem0 = used_mb()
    t0 = time.perf_counter()
    try:
        lookahead.prefetch([snap.offset_s])
        net.start(snap, progress, computed=lambda: lookahead.get(snap.offset_s))
        up = time.perf_counter() - t0
    finally:
        lookahead.close()
    mem1 = used_mb()
    routes = stages["routes"][1] - stages["routes"][0] if "routes" in stages else 0.0
    for timed in shaping.values():
        setattr(timed.owner, timed.name, timed.inner)
    t1 = time.perf_counter()
    net.stop()
    shaper.close()
    down = time.perf_counter() - t1
    # The kernel frees deleted namespaces in the background: time until the memory is back.
    reclaim = float("nan")
    while time.perf_counter() - t1 < 120:
        if used_mb() - mem0 < 0.1 * (mem1 - mem0):
            reclaim = time.perf_counter() - t1
            break
        time.sleep(0.5)
    return {"up_s": up, "up_without_routes_s": up - routes, "routes_s": routes, "down_s": down,
            "reclaim_s": reclaim, "mem_mb": mem1 - mem0, "stages": {k: v[1] - v[0] for k, v in stages.items()},
            "shaping": {k: v.seconds for k, v in shaping.items()},
            "timeline": sorted([(v[0] - t0, v[1] - t0, k) for k, v in stages.items()]
                               + [(v.first - t0, v.last - t0, f"shaper {k}") for k, v in shaping.items() if v.first])}


def bench_stock(num_nodes: int, links) -> dict:
    from mininet.link import Link
    from mininet.net import Mininet
    from mininet.node import Host
    net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False, autoStaticArp=False)
    mem0 = used_mb()
    t0 = time.perf_counter()
    hosts = [net.addHost(f"h{i}", cls=Host) for i in range(num_nodes)]
    t1 = time.perf_counter()
    for a, b in zip(links.a, links.b):
        net.addLink(hosts[int(a)], hosts[int(b)], cls=Link)
    t2 = time.perf_counter()
    net.build()
    t3 = time.perf_counter()
    mem1 = used_mb()
    net.stop()
    t4 = time.perf_counter()
    return {"hosts_s": t1 - t0, "links_s": t2 - t1, "build_s": t3 - t2, "up_s": t3 - t0, "down_s": t4 - t3,
            "mem_mb": mem1 - mem0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="starlink-shell1")
    ap.add_argument("--skip-stock", action="store_true", help="only measure leonet")
    ap.add_argument("--backend", choices=("none", "nfqueue"), default="none",
                    help="leonet's delay backend (default none: like stock Mininet, no shaping)")
    ap.add_argument("--route-prefixes", choices=("aggregate", "host"), default="aggregate",
                    help="emulation.route_prefixes (default aggregate, as runs; host: a /32 route per destination)")
    ap.add_argument("--forwarding-table", choices=("kernel", "ebpf"), default="kernel",
                    help="emulation.forwarding_table (default kernel routes; ebpf: one BPF map)")
    args = ap.parse_args()
    try:    # its namespaces are leonet's: another run's start-up would remove them, and its own clean-up the other's
        runstate.claim({"scenario": f"{args.scenario} (bench_bringup)", "backend": args.backend})
    except LeonetError as exc:
        print(f"bench_bringup: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        measure(args)
    finally:
        runstate.release()


def measure(args: argparse.Namespace) -> None:
    cleanup(stop_run=False)
    engine = TopologyEngine(load_constellation(args.scenario))
    snap = engine.snapshot(0)
    n, m = len(engine.nodes), len(snap.links)
    print(f"machine: {describe()}")
    print(f"graph: {args.scenario}, {n} hosts, {m} links; backend {args.backend}, route_prefixes {args.route_prefixes}, "
          f"forwarding_table {args.forwarding_table}")
    ours = bench_leonet(engine, snap, args.backend, args.route_prefixes, args.forwarding_table)
    gc.collect()
    print(f"leonet : up {ours['up_s']:.1f} s (without routes {ours['up_without_routes_s']:.1f} s; "
          f"routes {ours['routes_s']:.1f} s), down {ours['down_s']:.1f} s (kernel reclaim done after "
          f"{ours['reclaim_s']:.1f} s), "
          f"memory {ours['mem_mb']:.0f} MB ({1024 * ours['mem_mb'] / n:.0f} kB per node)")
    print("         stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in ours["stages"].items()))
    print("         timeline (s from the start): " + ", ".join(f"{k} {a:.1f}-{b:.1f}" for a, b, k in ours["timeline"]))
    if ours["shaping"]:
        print(f"         shaping ({args.backend}): " + ", ".join(f"{k} {v:.1f} s" for k, v in ours["shaping"].items()))
    if args.skip_stock:
        return
    stock = bench_stock(n, snap.links)
    print(f"mininet: up {stock['up_s']:.1f} s (hosts {stock['hosts_s']:.1f}, links {stock['links_s']:.1f}, "
          f"build {stock['build_s']:.1f}), down {stock['down_s']:.1f} s, memory {stock['mem_mb']:.0f} MB "
          f"({1024 * stock['mem_mb'] / n:.0f} kB per node)")
    print(f"ratio  : up {ours['up_without_routes_s'] / stock['up_s']:.2f}x of stock (like for like), "
          f"{ours['up_s'] / stock['up_s']:.2f}x with all-pairs routes; down {ours['down_s'] / stock['down_s']:.2f}x")


if __name__ == "__main__":
    main()
