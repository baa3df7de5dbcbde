"""The reachability self-check: every node's kernel routing table against the engine."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from . import netns as nsmod
from .addressing import node_address_int
from .rtnl import RtnlSocket, dump_leonet_routes


def compare_tables(names: Sequence[str], destinations: np.ndarray, next_hop: np.ndarray,
                   kernel: Sequence[Dict[int, int]]) -> List[str]:
    """Mismatches between ``next_hop`` (D, V; -1: no route) and each node's kernel
    table ``{destination address: gateway address}``."""
    base = node_address_int(0)
    problems: List[str] = []
    for v, table in enumerate(kernel):
        got = np.full(len(destinations), -1, dtype=np.int64)
        for i, d in enumerate(destinations):
            gw = table.get(base + int(d))
            if gw is not None:
                got[i] = gw - base
        want = next_hop[:, v]
        for i in np.flatnonzero(got != want):
            d = int(destinations[i])
            problems.append(f"{names[v]}: route to {names[d]} via "
                            f"{names[got[i]] if got[i] >= 0 else 'none'}, engine says "
                            f"{names[want[i]] if want[i] >= 0 else 'none'}")
    return problems


def read_tables(netns_names: Sequence[str]) -> List[Dict[int, int]]:
    worker = nsmod.NetnsThread()
    try:
        def dump() -> Dict[int, int]:
            sock = RtnlSocket()
            try:
                return dump_leonet_routes(sock)
            finally:
                sock.close()
        return worker.run_many([(name, dump) for name in netns_names])
    finally:
        worker.close()


def check_active_run() -> Tuple[List[str], str]:
    """Check the active run from another process: recompute the engine's routes at the
    run's last applied tick and compare them with the kernel's."""
    from ..orbits import build_constellation, load_scenario
    from ..topology import TopologyEngine
    from . import runstate
    record = runstate.require_active_run()
    status = runstate.read_status()
    scenario = load_scenario(record["scenario_path"], record.get("start"))
    engine = TopologyEngine(build_constellation(scenario))
    snap = engine.snapshot(float(status["offset_s"]))
    V = len(engine.nodes)
    if "destinations" in record:       # routes: bounding-box records its destination nodes
        dests = np.asarray(record["destinations"], dtype=int)
    else:
        dests = np.arange(V) if record.get("routes", "all") == "all" else np.arange(engine.nodes.num_satellites, V)
    if record.get("forwarding") == "per-pair":   # direct links between active nodes (docs/forwarding.md)
        from ..topology.pairwise import pairwise_plane
        next_hop = pairwise_plane(snap, dests, engine.config.speed_of_light_factor)[1]
    else:
        next_hop = snap.routes(dests).next_hop_to_source
    kernel = read_tables([n["netns"] for n in record["nodes"]])
    return compare_tables(engine.nodes.names, dests, next_hop, kernel), status["time"]
