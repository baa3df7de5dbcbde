"""The per-tick pipeline of ``leonet run starlink-phase1`` without the kernel (no root):
everything a tick costs except sending its messages.

    python benchmarks/bench_phase1_tick.py [--scenario starlink-phase1] [--ticks 30]
        [--threads 1] [--verify] [--baseline REV]

For consecutive 1 s ticks, two pipelines one after the other in the same process, each with
its own forked worker (as a run's lookahead) and its own :class:`LeoNetwork` that never
starts (the route planning and link diffs of its apply, without the kernel):

* **before** (the named baseline, the pipeline as it was): the worker computes the snapshot
  and the all-pairs trees with first hops (with ``--baseline REV``, by that git revision's
  Dijkstra, e.g. c1eb648, the code before issue 16's fourth session), and sends the whole
  next-hop table (int16); this process copies it to int32 and compares it with the
  installed table to find the changes;
* **now**: ``leonet.emulation.lookahead.Lookahead`` as a run uses it: trees without first
  hops, only the changed entries cross the pipe, the apply plans from them.

Per tick and stage (ms, p50 / p99): worker snapshot (positions, links, delays), worker
routes (the repaired trees), worker table encoding, bytes sent, this process's CPU time
from submitting the job to having the table (unpickling in the pool's thread included),
link diff, shaping changes (the per-link list the backend is handed), route planning
(next-hop objects) and its commit; plus route changes, kernel operations, links added and
removed, delays re-applied per tick. The first tick (the trees from scratch and every route
planned: bring-up) is reported apart. ``--verify`` checks that both pipelines install the
same table every tick, and walks the last one (loop-free, every path the least delay).
``--baseline REV`` also times bring-up's route planning by REV's planner against today's.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.emulation.lookahead import Lookahead  # noqa: E402
from leonet.emulation.network import LeoNetwork  # noqa: E402
from leonet.emulation.run import EmulationRun  # noqa: E402
from leonet.emulation.selfcheck import walk  # noqa: E402

# ----------------------------------------------------------------------------- the baseline worker
_engine = None
_dest = None
_threads = 0
_last = None


def _former_init(engine, dest, threads, dijkstra_module):
    global _engine, _dest, _threads
    _engine, _dest, _threads = engine, dest, threads
    if dijkstra_module is not None:   # this worker only: the trees as the baseline revision grew them
        import leonet.topology.dijkstra as current

        def former(graph, sources, threads=0, previous=None, aliases=None, with_first_hops=True):
            return dijkstra_module.dijkstra(graph, sources, threads, previous, aliases)
        current.dijkstra = former


def _former_compute(offset_s: float):
    """The lookahead job as it was: trees with first hops, the whole table as int16."""
    global _last
    t0 = time.perf_counter()
    snap = _engine.snapshot(offset_s)
    t1 = time.perf_counter()
    routes = _last = snap.routes(_dest, previous=_last, threads=_threads)
    hops = routes.next_hop_to_source
    t2 = time.perf_counter()
    table = hops.astype(np.int16 if len(snap.nodes) < 32767 else np.int32)
    snap._graph = None
    t3 = time.perf_counter()
    return snap, table, None, {"snapshot": (t1 - t0) * 1e3, "routes": (t2 - t1) * 1e3, "changes": (t3 - t2) * 1e3}


# ----------------------------------------------------------------------------- the pipelines
class Former:

    def __init__(self, run: EmulationRun, dest: np.ndarray, threads: int, rev: str):
        ctx = multiprocessing.get_context("fork")
        old = module_at(rev, "leonet/topology/dijkstra.py") if rev else None
        if old is not None:     # compiled here, before the fork, not in a timed tick
            from scipy.sparse import csr_matrix
            tiny = csr_matrix((np.ones(4), ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
            _, pred, _ = old.dijkstra(tiny, np.arange(3), threads=1)
            old.dijkstra(tiny, np.arange(3), threads=1, previous=pred)
        self.name = f"before ({rev or 'this code'}, baseline): whole tables"
        self.pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx, initializer=_former_init,
                                                           initargs=(run.engine, dest, threads, old))
        self.net = LeoNetwork(run.engine, run.config, None, None)

    def receive(self, offset_s: float):
        """(snapshot, table, changes, worker ms, result object)"""
        result = self.pool.submit(_former_compute, offset_s).result()
        snap, table, _, worker = result
        return snap, table.astype(np.int32), None, worker, result

    def close(self):
        self.pool.shutdown(wait=True)


class Now:
    name = "now: changes only"

    def __init__(self, run: EmulationRun, dest: np.ndarray, threads: int):
        self.lookahead = Lookahead(run.engine, dest, threads=threads)
        self.net = LeoNetwork(run.engine, run.config, None, None)

    def receive(self, offset_s: float):
        self.lookahead.prefetch([offset_s])
        while self.lookahead.peek(offset_s) is None:   # done in the worker: what follows is the transfer
            time.sleep(0.002)
        c = self.lookahead.get(offset_s)
        # what crossed the pipe: a whole int16 table when the changes apply to none (the first tick)
        sent = (c.snapshot, c.changes, c.plane, c.worker_ms,
                c.next_hop.astype(np.int16) if c.changes is not None and c.changes.base < 0 else None)
        return c.snapshot, c.next_hop, c.changes, c.worker_ms, sent

    def close(self):
        self.lookahead.close()


def one_tick(pipe, offset_s: float) -> Dict[str, float]:
    out: Dict[str, float] = {}
    c0 = time.process_time()
    snap, table, changes, worker, result = pipe.receive(offset_s)
    out["receive_cpu"] = (time.process_time() - c0) * 1e3
    for k, v in worker.items():
        out[f"worker_{k}"] = v
    net = pipe.net
    t0 = time.perf_counter()
    diff = net.diff_links(snap.links)
    t1 = time.perf_counter()
    ends = net._ends(snap.links, diff.changed)          # what the backend's update() is handed
    t2 = time.perf_counter()
    plan = net.plan_routes(snap, table, changes)
    t3 = time.perf_counter()
    net.commit_routes(plan)
    net.links, net._installed_delay = snap.links, diff.installed_delay
    t4 = time.perf_counter()
    out.update(diff=(t1 - t0) * 1e3, shaping=(t2 - t1) * 1e3, plan=(t3 - t2) * 1e3, commit=(t4 - t3) * 1e3,
               links_added=float(diff.added.sum()), links_removed=float(diff.removed.sum()),
               delays=float(len(ends) // 2), changes=float(len(plan.pairs[0])), operations=float(plan.operations))
    out["main"] = out["receive_cpu"] + out["diff"] + out["shaping"] + out["plan"] + out["commit"]
    out["worker"] = sum(worker.values())
    out["sent_mb"] = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6
    return out


STAGES = [("worker_snapshot", "worker: snapshot (positions, links, delays)"),
          ("worker_routes", "worker: all-pairs trees (repair)"),
          ("worker_changes", "worker: table encoding"),
          ("worker", "**worker total (compute)**"),
          ("sent_mb", "sent through the pipe (MB)"),
          ("receive_cpu", "main: receive (CPU, unpickle + copy)"),
          ("diff", "main: link diff"),
          ("shaping", "main: shaping changes (backend's list)"),
          ("plan", "main: route plan (next-hop objects)"),
          ("commit", "main: record the installed table"),
          ("main", "**main total (planning, besides the kernel)**")]
COUNTS = [("changes", "next-hop entries changed"), ("operations", "kernel route operations"),
          ("links_added", "links added"), ("links_removed", "links removed"), ("delays", "delays re-applied")]


def p(values: List[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="starlink-phase1")
    ap.add_argument("--ticks", type=int, default=30)
    ap.add_argument("--offset", type=float, default=0.0, help="first tick's offset (s)")
    ap.add_argument("--threads", type=int, default=1, help="threads of the workers' Dijkstra (0: one per core)")
    ap.add_argument("--verify", action="store_true", help="compare the two tables each tick, walk the last")
    ap.add_argument("--baseline", default="", metavar="REV",
                    help="the baseline worker grows its trees with leonet/topology/dijkstra.py as of git REV, "
                         "and bring-up's route planning is also timed with leonet/emulation/nexthops.py of REV")
    args = ap.parse_args()
    run = EmulationRun.from_scenario(args.scenario)
    V = len(run.engine.nodes)
    dest = LeoNetwork(run.engine, run.config, None, None).destinations
    print(f"machine: {describe()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.scenario}: {V} nodes, {len(dest)} destinations (routes: {run.config.routes}), "
          f"route_nexthops {run.config.route_nexthops}, hysteresis {run.config.route_hysteresis_ms} ms, "
          f"{args.ticks} ticks of 1 s, Dijkstra threads {args.threads or 'one per core'}")
    pipes = [Former(run, dest, args.threads, args.baseline), Now(run, dest, args.threads)]
    rows: Dict[str, List[Dict[str, float]]] = {pp.name: [] for pp in pipes}
    first: Dict[str, Dict[str, float]] = {}
    try:
        for k in range(args.ticks + 1):
            offset = args.offset + k
            for pp in pipes:
                r = one_tick(pp, offset)
                if k == 0:
                    first[pp.name] = r
                else:
                    rows[pp.name].append(r)
            if args.verify:
                a, b = pipes[0].net.next_hop, pipes[1].net.next_hop
                assert np.array_equal(a, b), f"tick {k}: the pipelines installed different tables"
            print(f"\rtick {k}/{args.ticks}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        if args.verify:
            snap = run.engine.snapshot(args.offset + args.ticks)
            t0 = time.perf_counter()
            routes = snap.routes(dest)
            w = walk(pipes[1].net.next_hop, dest, snap)
            reach = np.isfinite(routes.delay_ms)
            assert (w.end == dest[:, None])[reach].all(), "a walk did not arrive (loop or black hole)"
            excess = float((w.delay_ms - np.where(reach, routes.delay_ms, 0.0))[reach].max())
            print(f"verified: both pipelines installed the same table every tick; the last one walked: "
                  f"{int(reach.sum()):,} routed pairs, loop-free, worst excess over the least delay "
                  f"{excess:.2e} ms ({time.perf_counter() - t0:.1f} s)")
    finally:
        for pp in pipes:
            pp.close()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    names = [pp.name for pp in pipes]
    print(f"\nper tick, {args.ticks} ticks (p50 / p99, ms unless stated)")
    print("| stage | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key, label in STAGES + COUNTS:
        cells = [f"{p([r[key] for r in rows[n]], 50):,.1f} / {p([r[key] for r in rows[n]], 99):,.1f}" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nfirst tick (bring-up: trees from scratch, every route planned)")
    print("| stage | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key, label in STAGES + COUNTS:
        print(f"| {label} | " + " | ".join(f"{first[n][key]:,.1f}" for n in names) + " |")
    if args.baseline:
        bringup_planning(run, dest, args.offset, args.baseline)
    return 0


def module_at(rev: str, path: str):
    """The module at ``path`` as of git revision ``rev`` (its package's relative imports
    resolved against the current leonet)."""
    import importlib.util
    import subprocess
    import tempfile
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True, text=True,
                            check=True).stdout
    package = ".".join(Path(path).with_suffix("").parts[:-1])
    parent = package.rsplit(".", 1)[0]
    source = source.replace("from ..", f"from {parent}.").replace("from .", f"from {package}.")
    folder = tempfile.mkdtemp(prefix="leonet-baseline-")
    file = os.path.join(folder, f"baseline_{Path(path).stem}.py")
    with open(file, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(f"baseline_{Path(path).stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def bringup_planning(run: EmulationRun, dest: np.ndarray, offset: float, rev: str) -> None:
    """Bring-up's route planning (every route of the first tick) by the planner of git ``rev``
    and by the current one, one after the other on the same table; the plans must agree."""
    from leonet.emulation.nexthops import NexthopSlots
    old = module_at(rev, "leonet/emulation/nexthops.py")
    table = run.engine.snapshot(offset).routes(dest).next_hop_to_source.astype(np.int32)
    empty = np.full(table.shape, -1, dtype=np.int32)
    print(f"\nbring-up route planning ({int((table >= 0).sum()):,} routes), load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    plans = {}
    for name, cls in ((f"planner of {rev} (baseline)", old.NexthopSlots), ("planner now", NexthopSlots)):
        slots = cls(table.shape[0], table.shape[1])
        t0 = time.perf_counter()
        plan = slots.plan(empty, table)
        plans[name] = (plan, slots)
        print(f"| {name} | {time.perf_counter() - t0:.2f} s | {plan.operations:,} operations |", flush=True)
    (a, sa), (b, sb) = plans.values()
    assert np.array_equal(sa.slot, sb.slot) and np.array_equal(sa.target, sb.target), "the plans differ"


if __name__ == "__main__":
    sys.exit(main())
