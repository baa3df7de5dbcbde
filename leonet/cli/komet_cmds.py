"""CLI commands of Komet's scheduling study: ``leonet komet simulate`` (replay
strategies over a trace of the scenario) and ``leonet komet trace`` (export it)."""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import ConfigError
from ..komet.config import KometConfig, komet_config, resolve_clients
from ..komet.simulator import SimulationResult, Simulator, simulate
from ..komet.strategies import AGGREGATES, SOLVERS, STRATEGIES, TIE_BREAKS, Strategy
from ..komet.trace import build_trace, iter_trace
from ..topology import TopologyEngine
from .common import add_scenario_arg, emit_rows, load

#: traces larger than this are streamed in chunks instead of held (and not cached)
STREAM_ABOVE_BYTES = 2 << 30
#: strategies without a threshold
_NO_THRESHOLD = ("minmax", "minmax-many")
_COLUMNS = ["strategy", "migrations", "mean_between_migrations_s", "mean_rtt_ms", "p99_rtt_ms", "max_rtt_ms",
            "mean_replicas", "max_replicas", "replicas_started"]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leonet" / "komet"


def _add_trace_args(p: argparse.ArgumentParser) -> None:
    span = p.add_mutually_exclusive_group()
    span.add_argument("--hours", type=float, metavar="H", help="trace length in hours (default: komet.trace)")
    span.add_argument("--duration", type=float, metavar="S", help="trace length in seconds")
    p.add_argument("--start-offset", type=float, metavar="S", help="trace start, seconds after the scenario start")
    p.add_argument("--step", type=float, metavar="S", help="seconds between trace steps (default 1)")
    p.add_argument("--hysteresis", type=float, metavar="US",
                   help="trace update threshold in us, one way (default 500, Celestial's; 0: exact)")
    p.add_argument("--clients", metavar="A,B,...", help="ground stations or glob patterns (default: komet.clients)")
    p.add_argument("--cache", type=Path, metavar="DIR", help=f"path-delay cache (default {default_cache_dir()})")
    p.add_argument("--no-cache", action="store_true", help="compute the trace without caching it")
    p.add_argument("--workers", type=int, default=1, help="processes computing the trace (default 1)")


def register(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("komet", help="Komet's migration strategies, replayed over network traces")
    ks = k.add_subparsers(dest="komet_command", metavar="SUBCOMMAND", parser_class=type(k))
    ks.required = True

    p = ks.add_parser("simulate", help="replay server-selection strategies over the scenario's trace")
    add_scenario_arg(p)
    p.add_argument("--strategy", metavar="S[,S...]",
                   help="one or more of " + ", ".join(STRATEGIES) + " (default: komet.strategy)")
    p.add_argument("--threshold", metavar="T[,T...]",
                   help='0.1 or "10%%" (relative), "500us" or "1ms" (absolute, one way); several: one run each')
    p.add_argument("--aggregate", choices=AGGREGATES, help="many-to-one score (default rms)")
    p.add_argument("--tie-break", choices=TIE_BREAKS, help="many-to-many hitting-set ties (default ever)")
    p.add_argument("--hitting-set", choices=SOLVERS, help="many-to-many solver (default greedy)")
    p.add_argument("--max-replicas", type=int, metavar="N", help="many-to-many: cap on the greedy set")
    p.add_argument("--active-only", action="store_true", default=None,
                   help="only satellites inside topology.bounding_box may serve")
    _add_trace_args(p)
    p.add_argument("--assignments", type=Path, metavar="FILE.csv",
                   help="also write t,ground_station,satellite,distance per step (the artifact's format); "
                        "with several runs, one file each, suffixed by the run")
    p.add_argument("--timeline", type=Path, metavar="FILE.csv",
                   help="also write per step: replicas, migration (0/1), replicas started, mean RTT over clients; "
                        "with several runs, one file each")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.set_defaults(func=cmd_simulate)

    p = ks.add_parser("trace", help="export the scenario's client-satellite distance trace (.npz)")
    add_scenario_arg(p)
    _add_trace_args(p)
    p.add_argument("-o", "--out", type=Path, required=True, metavar="FILE.npz", help="output file")
    p.set_defaults(func=cmd_trace)


def _config(args: argparse.Namespace, scenario) -> KometConfig:
    base = komet_config(scenario)
    if args.hours is not None and not args.hours > 0:
        raise ConfigError("--hours", args.hours, "must be a positive number of hours", "write e.g. 0.5 or 24")
    duration = args.hours * 3600.0 if args.hours is not None else args.duration
    values = dict(duration_s=duration, start_offset_s=args.start_offset, step_s=args.step,
                  hysteresis_us=args.hysteresis, clients=args.clients)
    for attr in ("aggregate", "tie_break", "hitting_set", "max_replicas", "active_only"):
        if hasattr(args, attr):
            values[attr] = getattr(args, attr)
    try:
        return base.with_overrides("option", **values)
    except ConfigError as exc:
        key = exc.field.split(".")[-1]
        flag = {"duration_s": "--hours/--duration", "start_offset_s": "--start-offset", "step_s": "--step",
                "hysteresis_us": "--hysteresis"}.get(key, "--" + key.replace("_", "-"))
        raise ConfigError(flag, exc.value, exc.problem, exc.fix) from None


def _runs(args: argparse.Namespace, cfg: KometConfig) -> List[Strategy]:
    names = [s.strip() for s in args.strategy.split(",") if s.strip()] if args.strategy else [cfg.strategy]
    thresholds = [t.strip() for t in args.threshold.split(",") if t.strip()] if args.threshold else [None]
    runs, seen = [], set()
    for name in names:
        for thr in thresholds if name not in _NO_THRESHOLD else [None]:
            key = (name, thr)
            if key in seen:
                continue
            seen.add(key)
            values = {"strategy": name} if thr is None else {"strategy": name, "threshold": _number_or_text(thr)}
            try:
                runs.append(cfg.with_overrides("option", **values).make_strategy())
            except ConfigError as exc:
                flag = "--" + exc.field.split(".")[-1].replace("_", "-")
                raise ConfigError(flag, exc.value, exc.problem, exc.fix) from None
    return runs


def _number_or_text(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def _trace_inputs(args: argparse.Namespace):
    c = load(args)
    cfg = _config(args, c.scenario)
    if args.workers < 1:
        raise ConfigError("--workers", args.workers, "must be >= 1", "use 1 or 2")
    engine = TopologyEngine(c)
    if cfg.active_only and engine.config.bounding_box is None:
        raise ConfigError("--active-only" if getattr(args, "active_only", None) else "komet.active_only", True,
                          "the scenario has no topology.bounding_box, so every satellite is active",
                          "add a bounding_box to the topology: section, or drop active_only")
    clients = resolve_clients(c.scenario, cfg.clients, "--clients" if args.clients else "komet.clients")
    return c, cfg, engine, clients


def _trace_bytes(cfg: KometConfig, clients: int, satellites: int) -> int:
    steps = int(cfg.trace.duration_s / cfg.trace.step_s)
    return steps * clients * satellites * 4 * 2      # what strategies see, and the exact values


def cmd_simulate(args: argparse.Namespace) -> int:
    c, cfg, engine, clients = _trace_inputs(args)
    runs = _runs(args, cfg)
    for strategy in runs:       # before the trace is built: e.g. one-to-one with several clients
        try:
            strategy.reset(len(clients), c.num_satellites)
        except ConfigError as exc:
            raise ConfigError("--clients" if args.clients else "komet.clients", clients if len(clients) < 6
                              else f"{len(clients)} clients", exc.problem, exc.fix) from None
    tr = cfg.trace
    progress = sys.stderr.isatty()
    stream = _trace_bytes(cfg, len(clients), c.num_satellites) > STREAM_ABOVE_BYTES
    results: List[SimulationResult] = []
    if stream:
        if any(r.name == "sticky" for r in runs):
            raise ConfigError("--strategy", "sticky", "reads the whole trace ahead and this trace is too long to hold",
                              "simulate Sticky over a shorter period (--hours)")
        sys.stderr.write(f"leonet: streaming the trace ({tr.duration_s / 3600:g} h is too long to hold; "
                         "not cached)\n")
        sims = [Simulator(strategy, tuple(clients), c.num_satellites, tr.step_s) for strategy in runs]
        chunks = iter_trace(engine, clients, tr.start_offset_s, tr.duration_s, tr.step_s, tr.hysteresis_us,
                            workers=args.workers, active_only=cfg.active_only)
        steps = int(tr.duration_s / tr.step_s)
        from tqdm import tqdm
        with tqdm(total=steps, desc="komet", unit="step", disable=not progress, leave=False) as bar:
            for chunk in chunks:        # one pass over the trace feeds every strategy
                for sim in sims:
                    sim.feed(chunk)
                bar.update(len(chunk))
        results = [sim.result() for sim in sims]
    else:
        cache = None if args.no_cache else (args.cache or default_cache_dir())
        trace = build_trace(engine, clients, tr.start_offset_s, tr.duration_s, tr.step_s, tr.hysteresis_us,
                            cache_dir=cache, workers=args.workers, progress=progress, active_only=cfg.active_only)
        results = [simulate(strategy, trace) for strategy in runs]
    for option, writer in ((args.assignments, lambda path, res: write_assignments(path, res, engine)),
                           (args.timeline, write_timeline)):
        if option:
            for i, res in enumerate(results):
                writer(option if len(results) == 1 else option.with_name(f"{option.stem}-{i + 1}{option.suffix}"),
                       res)
    summaries = [r.summary() for r in results]
    if args.format == "json":
        json.dump({"scenario": c.scenario.name, "clients": clients, "start_offset_s": tr.start_offset_s,
                   "duration_s": tr.duration_s, "step_s": tr.step_s, "hysteresis_us": tr.hysteresis_us,
                   "active_only": cfg.active_only, "results": summaries}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"scenario {c.scenario.name}: {len(clients)} client(s), {c.num_satellites} satellites; trace "
          f"{tr.duration_s:g} s from +{tr.start_offset_s:g} s every {tr.step_s:g} s, hysteresis "
          f"{tr.hysteresis_us:g} us" + (", active satellites only" if cfg.active_only else ""))
    emit_rows(summaries, _COLUMNS, "table", floatfmt="{:.2f}")
    print("RTT = 2 x one-way path delay to the serving satellite (ms); times in s")
    return 0


def write_assignments(path: Path, res: SimulationResult, engine: TopologyEngine) -> None:
    """Per step and client: the serving satellite and its one-way distance (us), as the
    artifact's result CSVs (``t`` counts steps from the trace start)."""
    names = [s.name for s in engine.constellation.satellites]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "offset_s", "ground_station", "satellite", "distance"])
        for t in range(res.steps):
            for ci, client in enumerate(res.clients):
                sat = int(res.assignment[t, ci])
                d = res.delay_us[t, ci]
                w.writerow([t, f"{res.offsets_s[t]:g}", client, names[sat] if sat >= 0 else "",
                            f"{d:.0f}" if np.isfinite(d) else ""])


def write_timeline(path: Path, res: SimulationResult) -> None:
    """Per step: how many satellites serve, whether the serving set changed, how many
    started serving, and the mean RTT (ms) over the served clients."""
    rtt = np.where(np.isfinite(res.delay_us), 2.0 * res.delay_us / 1000.0, np.nan)
    served = np.isfinite(rtt).any(axis=1)
    mean_rtt = np.full(res.steps, np.nan)
    mean_rtt[served] = np.nanmean(rtt[served], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "offset_s", "replicas", "migration", "replicas_started", "mean_rtt_ms"])
        for t in range(res.steps):
            w.writerow([t, f"{res.offsets_s[t]:g}", int(res.replicas[t]), int(res.changed[t]),
                        int(res.started[t]), "" if np.isnan(mean_rtt[t]) else f"{mean_rtt[t]:.3f}"])


def cmd_trace(args: argparse.Namespace) -> int:
    c, cfg, engine, clients = _trace_inputs(args)
    tr = cfg.trace
    if _trace_bytes(cfg, len(clients), c.num_satellites) > STREAM_ABOVE_BYTES:
        raise ConfigError("--hours/--duration", tr.duration_s, "gives a trace too large to export in one file",
                          "export a shorter period, or fewer clients")
    cache: Optional[Path] = None if args.no_cache else (args.cache or default_cache_dir())
    trace = build_trace(engine, clients, tr.start_offset_s, tr.duration_s, tr.step_s, tr.hysteresis_us,
                        cache_dir=cache, workers=args.workers, progress=sys.stderr.isatty())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, delay_us=trace.delay_us, true_delay_us=trace.true_delay_us,
                        active=trace.active, offsets_s=trace.offsets_s, clients=np.array(trace.clients),
                        satellites=np.array(trace.satellites), hysteresis_us=trace.hysteresis_us,
                        step_s=trace.step_s)
    print(f"wrote {args.out}: {len(trace)} steps x {trace.num_clients} clients x {trace.num_satellites} "
          "satellites (delay_us: what strategies see; true_delay_us: exact; one way, us)")
    return 0
