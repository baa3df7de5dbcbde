"""What Komet's live multi-client experiments share (Figs. 10 and 12; Fig. 7 has one
client and its own driver, on the same ground scheduler and process helpers): bring the
scenario up, start a Komet server on every satellite that enters the bounding box during
the run, run the ground scheduler in its ground station and the clients
(:mod:`apps.komet.fleet`) in theirs, collect what happened, and report it.

    run = run_live(LiveSetup(...))
    run.requests        # one dict per request (apps.komet.fleet's CSV rows)
    run.events          # the scheduler's events (deploy_start, switch, ...)
    run.network_rtt_ms()  # each request's network RTT to its satellite, from the orbits
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from common import print_table, write_csv
from leonet import LeoNet
from leonet.komet import make_strategy
from leonet.komet.config import komet_config, resolve_clients
from leonet.komet.migration import AppSpec, Deployment
from leonet.komet.nodeapi import NodeClient
from leonet.komet.platform import KometPlatform, NamespaceLoop
from leonet.komet.scheduler import WS_PORT, GroundScheduler
from leonet.topology.delays import ground_satellite_delays
from leonet.waiting import wait_for_line

#: the paper's live runs: 2 minutes of ramp-up, then 20 minutes that count
RAMP_UP_S = 120
FULL_S = 1320


@dataclass
class LiveSetup:
    scenario: str
    app: AppSpec
    strategy: str
    threshold: str
    scheduler_at: str                   #: the ground station the scheduler runs in
    workload: str                       #: apps.komet.fleet's --workload
    start_s: float                      #: emulated offset at the start
    duration_s: float
    interval_s: float
    timeout_s: float
    lead_s: float = 20.0
    origin_at: Optional[str] = None     #: CDN: the ground station of the origin server
    label: str = "komet"


@dataclass
class LiveRun:
    setup: LiveSetup
    clients: List[str]
    servers: List[str]
    events: List[Dict[str, Any]]
    decisions_s: List[float]
    requests: List[Dict[str, str]]
    t0_offset_s: float                  #: emulated offset at wall time t0_wall
    t0_wall: float
    engine: Any = field(repr=False, default=None)

    def offset_of(self, wall: float) -> float:
        """The emulated offset at a wall time (the clock runs in real time)."""
        return self.t0_offset_s + (wall - self.t0_wall)

    def network_rtt_ms(self) -> np.ndarray:
        """Per request: 2 x the one-way path delay from its client to the satellite that
        served it, at its emulated second (nan where unknown)."""
        if not self.requests:
            return np.zeros(0)
        sats = {s.name: i for i, s in enumerate(self.engine.constellation.satellites)}
        stations = {g.name: i for i, g in enumerate(self.engine.constellation.ground_stations)}
        secs = np.array([int(self.offset_of(float(r["wall"]))) for r in self.requests])
        steps = np.unique(secs)
        cols = [stations[c] for c in self.clients]
        raw = ground_satellite_delays(self.engine, steps.astype(float), np.array(cols), uplinks=False)
        t_index = {int(t): i for i, t in enumerate(steps)}
        c_index = {c: i for i, c in enumerate(self.clients)}
        out = np.full(len(self.requests), np.nan)
        for k, (r, t) in enumerate(zip(self.requests, secs)):
            if r["node"] in sats:
                out[k] = 2 * float(raw.delay_ms[t_index[int(t)], c_index[r["client"]], sats[r["node"]]])
        return out

    def replicas_per_second(self) -> List[int]:
        """How many satellites served clients in each emulated second (from the switches)."""
        switches = [(e["offset_s"], len(e["nodes"])) for e in self.events if e["event"] == "switch"]
        out, current, k = [], 0, 0
        for t in range(int(self.t0_offset_s), int(self.t0_offset_s + self.setup.duration_s)):
            while k < len(switches) and switches[k][0] <= t + 1e-6:
                current = switches[k][1]
                k += 1
            out.append(current)
        return out


def servers_for(engine: Any, start_s: float, end_s: float, step_s: float = 5.0) -> List[str]:
    """The satellites inside the bounding box at some sampled time in [start, end]: the
    ones the scheduler may choose (only they get a Komet server)."""
    offsets = np.arange(start_s, end_s + step_s, step_s)
    raw = ground_satellite_delays(engine, offsets, np.array([0]), uplinks=False)
    names = [s.name for s in engine.constellation.satellites]
    return [names[i] for i in np.flatnonzero(np.asarray(raw.active).any(axis=0))]


def run_live(setup: LiveSetup, out: Path) -> LiveRun:
    out.mkdir(parents=True, exist_ok=True)
    requests_csv = out / f"{setup.label}_requests.csv"
    net = LeoNet(setup.scenario, offset_s=setup.start_s)
    engine = net.run.engine
    clients = list(resolve_clients(net.scenario, komet_config(net.scenario).clients))
    servers = servers_for(engine, setup.start_s, setup.start_s + setup.duration_s + setup.lead_s + 120)
    print(f"{setup.label}: {len(clients)} clients, Komet servers on the {len(servers)} satellites that enter "
          f"the bounding box, {setup.strategy} {setup.threshold}, {setup.duration_s:.0f} s from "
          f"+{setup.start_s:.0f} s", flush=True)
    with net, KometPlatform(net, satellites=servers) as komet:
        app = setup.app
        if setup.origin_at:
            spawn_ready(komet, setup.origin_at, ["-m", "apps.komet.origin", "--host", komet.address(setup.origin_at)],
                        "origin.log", what="the origin", timeout_s=60)
            app = app.with_env(KOMET_ORIGIN=f"{komet.address(setup.origin_at)}:8000")
        with ground_scheduler(net, komet, setup.scheduler_at, app, setup.strategy, setup.threshold, clients,
                              lead_s=setup.lead_s, start_timeout_s=300) as (ground, sched):
            job = ground.submit(sched.run(float("inf")))   # plans on while the clients start
            (komet.workdir / "clients.json").write_text(json.dumps([{"name": c, "netns": komet.netns(c)}
                                                                    for c in clients]))
            fleet = spawn_ready(komet, clients[0],        # its threads enter each client's namespace
                                ["-m", "apps.komet.fleet", "--workload", setup.workload,
                                 "--clients", str(komet.workdir / "clients.json"),
                                 "--scheduler", f"ws://{komet.address(setup.scheduler_at)}:{WS_PORT}/ws",
                                 "--duration", str(setup.duration_s), "--interval", str(setup.interval_s),
                                 "--timeout", str(setup.timeout_s), "--out", str(requests_csv)], "fleet.log",
                                what="the clients", timeout_s=120)
            t0_offset, t0_wall = net.offset_s, time.time()
            sched.until_s = t0_offset + setup.duration_s
            follow(job, net, t0_offset, setup.duration_s, f"{setup.label} (emulated s)")
            fleet.terminate()
            fleet.wait(30)
        events, decisions = list(sched.events), list(sched.decision_s)
    with open(requests_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return LiveRun(setup, clients, servers, events, decisions, rows, t0_offset, t0_wall, engine)


@contextlib.contextmanager
def ground_scheduler(net: LeoNet, komet: KometPlatform, station: str, app: AppSpec, strategy: str, threshold: str,
                     clients: List[str], lead_s: float,
                     start_timeout_s: float) -> Iterator[Tuple[NamespaceLoop, GroundScheduler]]:
    """Komet's ground scheduler for ``app`` on a loop in ``station``'s namespace, serving its clients'
    WebSocket there, deploying to the platform's satellites; started (the first placement made) on entry,
    closed with its HTTP session when the block ends normally."""
    ground = komet.loop(station)
    session = ground.run(_session())
    nodes = {s: NodeClient(session, s, komet.address(s)) for s in komet.satellites}
    sched = GroundScheduler(net.run.engine, Deployment(app, nodes.__getitem__), make_strategy(strategy, threshold),
                            clients, lambda: net.offset_s, lead_s=lead_s)
    ground.run(sched.serve(komet.address(station)))
    ground.run(sched.start(), start_timeout_s)
    yield ground, sched
    ground.run(sched.close())
    ground.run(session.close())


def spawn_ready(komet: KometPlatform, node: str, argv: List[str], log_name: str, what: str,
                timeout_s: float) -> subprocess.Popen:
    """A ground process started in ``node``'s namespace (:meth:`KometPlatform.spawn`) once it printed
    ``ready``; if it does not, exits naming ``what`` and its log."""
    proc = komet.spawn(node, argv, log_name)
    if not wait_for_line(proc, b"ready", timeout_s):
        raise SystemExit(f"{what} did not start; see {komet.workdir / log_name}")
    return proc


def follow(job: Any, net: LeoNet, t0_offset_s: float, duration_s: float, desc: str) -> None:
    """A progress bar of emulated seconds while the scheduler's ``job`` runs; then its result (or error)."""
    with tqdm(total=int(duration_s), unit="s", desc=desc) as bar:
        while not job.done():
            bar.n = min(int(net.offset_s - t0_offset_s), int(duration_s))
            bar.refresh()
            time.sleep(0.5)
    job.result()


async def _session():
    import aiohttp
    return aiohttp.ClientSession()


def events_csv(path: Path, events: Sequence[Dict[str, Any]]) -> None:
    write_csv(path, [{**e, "nodes": " ".join(e.get("nodes", []))} for e in events],
              ["event", "offset_s", "wall", "node", "source", "nodes", "clients", "due_s", "replication_s",
               "functions_s", "cold_start_s", "total_s", "failover_s", "step", "error"])


def requests_and_events_csv(out: Path, run: LiveRun, app_columns: Sequence[str]) -> None:
    """``<label>_requests.csv`` (every request with the app's own columns and its network RTT, after
    :func:`annotate`) and ``<label>_events.csv`` (the scheduler's events)."""
    write_csv(out / f"{run.setup.label}_requests.csv", run.requests,
              ["wall", "offset_s", "client", "node", "latency_ms", "ok", "error", *app_columns, "network_rtt_ms"])
    events_csv(out / f"{run.setup.label}_events.csv", run.events)


def print_report(title: str, args: argparse.Namespace, rows: List[Dict[str, Any]]) -> None:
    """The table of ours beside the paper's, under ``title`` and the clients' settings."""
    print(f"\n{title}, lead {args.lead:g} s, request every {args.interval:g} s, timeout {args.timeout:g} s")
    print_table(rows, ["metric", "ours", "paper"])


def mark_failed(ax: Any, t: Sequence[float], y: Sequence[float]) -> None:
    """Finish a response-latency axis: failed requests as red crosses at (``t``, ``y``), the label, and
    a legend where anything is labelled."""
    if len(t):
        ax.scatter(t, y, marker="x", s=8, color="red", label="failed")
    ax.set_ylabel("response latency (ms)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)


def live_parser(doc: str, epoch_s: int, quick: str, quick_start_s: float, quick_s: float, interval_s: float,
                timeout_s: float, strategy: str) -> argparse.ArgumentParser:
    """The options every multi-client live experiment has."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"{quick_s:g} s {quick} (CI)")
    p.add_argument("--start", type=float, default=None,
                   help=f"s after +{epoch_s:,} to start at (default 0; quick {quick_start_s:g})")
    p.add_argument("--duration", type=float, default=None,
                   help=f"emulated s (default {FULL_S:,}: 2 min ramp-up + 20 min; quick {quick_s:g})")
    p.add_argument("--interval", type=float, default=interval_s, help=f"s between a client's requests "
                                                                     f"(default {interval_s:g})")
    p.add_argument("--timeout", type=float, default=timeout_s, help=f"request timeout in s (default {timeout_s:g})")
    p.add_argument("--threshold", default="10%", help=f"{strategy} threshold (default 10%%)")
    p.add_argument("--lead", type=float, default=20.0, help="migration lead time in s")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "komet",
                   help="output folder")
    p.set_defaults(quick_start_s=quick_start_s, quick_s=quick_s)
    return p


def window(args: argparse.Namespace) -> "tuple[float, float]":
    """(start after the epoch, duration) from the options."""
    start = args.start if args.start is not None else (args.quick_start_s if args.quick else 0.0)
    return start, args.duration or (args.quick_s if args.quick else float(FULL_S))


def annotate(run: LiveRun, epoch_s: float) -> np.ndarray:
    """Add ``offset_s`` (since the epoch) and ``network_rtt_ms`` to every request row;
    returns the RTTs."""
    rtt = run.network_rtt_ms()
    for r, x in zip(run.requests, rtt):
        r["network_rtt_ms"] = "" if np.isnan(x) else round(float(x), 3)
        r["offset_s"] = round(run.offset_of(float(r["wall"])) - epoch_s, 3)
    return rtt


def counted_from(run: LiveRun, epoch_s: float) -> float:
    """Where the statistics start: after the ramp-up for a run from the epoch that is
    long enough to have one (as the paper's), else at once."""
    full = run.setup.start_s == epoch_s and run.setup.duration_s > RAMP_UP_S + 60
    return RAMP_UP_S if full else -1e9


def window_label(run: LiveRun, epoch_s: float, skip: float) -> str:
    return (f"+{run.setup.start_s - epoch_s:.0f} s, {run.setup.duration_s:.0f} s"
            + (", stats after the 2-min ramp-up" if skip > 0 else ""))


def failures_by_kind(requests: Sequence[Dict[str, Any]]) -> str:
    kinds: Dict[str, int] = {}
    for r in requests:
        if r["ok"] != "True":
            k = r["error"].split(" ")[0] or "?"
            kinds[k] = kinds.get(k, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "-"


def decision_cell(run: LiveRun) -> str:
    d = run.decisions_s
    return f"{1000 * np.median(d):.1f} / {1000 * max(d):.1f}" if d else "-"
