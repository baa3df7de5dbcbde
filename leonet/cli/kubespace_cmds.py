"""CLI commands of KubeSpace: ``leonet kubespace place`` (CNPA) and
``leonet kubespace assign`` (CNAA)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Optional

import numpy as np

from ..errors import ConfigError
from ..kubespace.assignment import ControlNode, assign, check_grid, check_threshold, cnaa, sample_offsets
from ..kubespace.config import PLACEMENT_MODES, default_interpolation, kubespace_config, positive_int
from ..schema import check_name_list
from ..kubespace.interpolation import METHODS
from ..kubespace.metrics import METRICS, delay_tensor, path_delay
from ..kubespace.objective import summarize
from ..kubespace.placement import cnpa
from ..orbits.timeutil import add_seconds, format_utc, parse_utc
from .common import add_format_arg, add_scenario_arg, emit_rows, load


def register(sub: argparse._SubParsersAction) -> None:
    ks = sub.add_parser("kubespace", help="KubeSpace control-node placement (CNPA) and assignment (CNAA)")
    kss = ks.add_subparsers(dest="kubespace_command", metavar="SUBCOMMAND", parser_class=type(ks))
    kss.required = True

    p = kss.add_parser("place", help="choose k ground stations as control nodes (CNPA, Algorithm 1)")
    add_scenario_arg(p)
    p.add_argument("--k", type=int, help="number of control nodes (default: scenario, else 5)")
    p.add_argument("--clusters", type=int, help="C, representative snapshots (default 20)")
    p.add_argument("--period", type=float, metavar="S", help="seconds of snapshots (default 86400)")
    p.add_argument("--step", type=float, metavar="S", help="seconds between snapshots (default 60)")
    p.add_argument("--metric", choices=METRICS, help="path (ISLs+GSLs, default) or straight line")
    p.add_argument("--seed", type=int, help="seed of k-means and its feature sample (default 0)")
    p.add_argument("--mode", choices=PLACEMENT_MODES,
                   help="paper: Algorithm 1 (default) | refined: adds worst snapshots, plateau moves, restarts")
    p.add_argument("--candidates", help="comma-separated ground stations (default: all)")
    add_format_arg(p, ("table", "json"))
    p.set_defaults(func=cmd_place)

    p = kss.add_parser("assign", help="a satellite's predicted control-node handovers (CNAA, Algorithm 2)")
    add_scenario_arg(p)
    p.add_argument("--satellite", required=True, metavar="NAME", help="satellite name, e.g. s0p12n5")
    p.add_argument("--control-nodes", metavar="A,B,...",
                   help="comma-separated ground stations hosting control planes")
    p.add_argument("--threshold", type=float, metavar="DELTA",
                   help="hand over when d_new / d_current < DELTA (default 0.9; 1 = nearest-only)")
    p.add_argument("--start", help="UTC window start (default: the scenario's start)")
    p.add_argument("--window", type=float, metavar="S", help="window T in seconds (default 43200)")
    p.add_argument("--sample", type=float, metavar="S", help="sampling interval (default 60)")
    p.add_argument("--decision", type=float, metavar="S", help="decision interval (default 1)")
    p.add_argument("--metric", choices=METRICS, help="straight line (the paper, default) or path delay")
    p.add_argument("--interpolation", choices=METHODS, help="default: cubic (straight), linear (path)")
    add_format_arg(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_assign)


def _pick(cli, configured):
    return configured if cli is None else cli


def cmd_place(args: argparse.Namespace) -> int:
    c = load(args)
    cfg = kubespace_config(c.scenario).placement
    k = positive_int("--k", _pick(args.k, cfg.k))
    clusters = positive_int("--clusters", _pick(args.clusters, cfg.clusters))
    period = _pick(args.period, cfg.period_s)
    step = _pick(args.step, cfg.snapshot_interval_s)
    for flag, value in (("--period", period), ("--step", step)):
        if not value > 0:
            raise ConfigError(flag, value, "must be a positive number of seconds", "e.g. 86400 and 60")
    metric = _pick(args.metric, cfg.metric)
    seed = positive_int("--seed", _pick(args.seed, cfg.seed), lo=0)
    wanted = check_name_list("--candidates", args.candidates) if args.candidates else cfg.candidates
    stations = (np.arange(len(c.ground_stations)) if wanted is None
                else np.array([c.ground_station(n).index for n in wanted]))
    if not 1 <= k <= len(stations):
        raise ConfigError("--k", k, f"must be between 1 and the number of candidates ({len(stations)})",
                          "lower --k or add ground stations")
    offsets = np.arange(0.0, period, step)
    t0 = time.perf_counter()
    metric_ms = delay_tensor(c, offsets, metric, stations, progress=sys.stderr.isatty())
    build_s = time.perf_counter() - t0
    mode = _pick(args.mode, cfg.mode)
    if mode == "refined":
        from ..kubespace.refined import cnpa_refined
        refined = cnpa_refined(metric_ms, k, clusters=clusters, seed=seed, rounds=cfg.rounds,
                               restarts=cfg.restarts, max_iterations=cfg.max_iterations,
                               feature_sample=cfg.feature_sample)
        selection, timings, how = refined.selection, refined.timings_s, (
            f"refined: {refined.rounds} round(s), {len(refined.snapshots)} representative snapshots, "
            f"{'converged' if refined.converged else 'round cap reached'}")
        extra = {"rounds": refined.rounds, "converged": refined.converged, "representatives": refined.snapshots}
    else:
        result = cnpa(metric_ms, k, clusters=clusters, seed=seed, max_iterations=cfg.max_iterations,
                      feature_sample=cfg.feature_sample, plateau_moves=cfg.plateau_moves)
        selection, timings = result.selection, result.timings_s
        how = f"greedy k-center over the representatives, then {result.swaps} local-search swap(s)"
        extra = {"greedy_worst_one_way_ms": result.greedy_score, "swaps": result.swaps,
                 "representatives": result.representatives.indices.tolist()}
    summary = summarize(metric_ms, selection)
    chosen = [c.ground_stations[int(stations[i])] for i in selection]
    if args.format == "json":
        json.dump({"scenario": c.scenario.name, "k": k, "clusters": clusters, "metric": metric, "mode": mode,
                   "snapshots": len(offsets), "step_s": step, "candidates": len(stations),
                   "control_nodes": [{"name": g.name, "lat_deg": g.lat_deg, "lon_deg": g.lon_deg}
                                     for g in chosen],
                   "worst_one_way_ms": summary.worst, "mean_of_snapshot_max_one_way_ms":
                       summary.mean_of_snapshot_max, "mean_one_way_ms": summary.mean, **extra,
                   "seconds": {"snapshots": build_s, **timings}}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"scenario {c.scenario.name}: {c.num_satellites} satellites, {len(stations)} candidate "
          f"stations, {len(offsets)} snapshots every {step:g} s, metric {metric} (one-way delay)")
    print(f"CNPA k={k}, C={clusters}, {how}")
    emit_rows([{"#": i + 1, "station": g.name, "lat_deg": g.lat_deg, "lon_deg": g.lon_deg}
               for i, g in enumerate(chosen)], ["#", "station", "lat_deg", "lon_deg"], "table",
              floatfmt="{:.3f}")
    print(f"worst satellite-to-nearest-node delay: {summary.worst:.2f} ms one way "
          f"({2 * summary.worst:.2f} ms round trip)")
    print(f"mean over time of the per-snapshot worst: {summary.mean_of_snapshot_max:.2f} ms one way")
    print(f"mean delay over satellites and time: {summary.mean:.2f} ms one way")
    if summary.unreachable:
        print(f"unreachable (snapshot, satellite) pairs: {summary.unreachable}")
    if "greedy_worst_one_way_ms" in extra:
        print(f"greedy alone: worst {extra['greedy_worst_one_way_ms']:.2f} ms one way")
    print("time: " + ", ".join(f"{name} {v:.2f} s" for name, v in {"snapshots": build_s, **timings}.items()))
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    c = load(args)
    cfg = kubespace_config(c.scenario).assignment
    sat = c.satellite(args.satellite)
    node_names: Optional[List[str]] = (check_name_list("--control-nodes", args.control_nodes) if args.control_nodes
                                       else cfg.control_nodes)
    if not node_names:
        raise ConfigError("--control-nodes", None, "no control nodes given",
                          "pass --control-nodes A,B,... (ground-station names of the scenario)")
    stations = [c.ground_station(n) for n in node_names]
    nodes = [ControlNode.of(g) for g in stations]
    threshold = check_threshold(_pick(args.threshold, cfg.threshold), "--threshold")
    window = _pick(args.window, cfg.window_s)
    sample = _pick(args.sample, cfg.sample_interval_s)
    decision = _pick(args.decision, cfg.decision_interval_s)
    check_grid(window, sample, decision, fields=("--window", "--sample", "--decision"))
    metric = _pick(args.metric, cfg.metric)
    interpolation = _pick(args.interpolation, cfg.interpolation) or default_interpolation(metric)
    start = parse_utc(args.start, "--start") if args.start else c.start
    offset0 = (start - c.start).total_seconds()
    if metric == "straight":
        result = cnaa([c.satrecs[sat.index]], start, nodes, window, sample, decision, threshold,
                      interpolation)
        samples_ms = None
    else:
        offsets = offset0 + sample_offsets(window, sample)
        tensor = path_delay(c, offsets, [g.index for g in stations], progress=sys.stderr.isatty())
        samples_ms = np.transpose(tensor[:, :, sat.index:sat.index + 1], (2, 1, 0))  # (1, K, S)
        result = assign(samples_ms, sample, decision, threshold, interpolation)
    rows = []
    for off, src, tgt in result.events(0):
        rows.append({"time": format_utc(add_seconds(start, off)), "offset_s": off,
                     "from": node_names[src], "to": node_names[tgt]})
    if args.format == "json":
        json.dump({"satellite": sat.name, "metric": metric, "threshold": threshold,
                   "start": format_utc(start), "window_s": window, "sample_s": sample,
                   "decision_s": decision, "interpolation": interpolation,
                   "initial": node_names[int(result.initial[0])], "handovers": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if args.format == "csv":
        emit_rows(rows, ["time", "offset_s", "from", "to"], "csv", floatfmt="{:.0f}")
        return 0
    print(f"satellite {sat.name}, control nodes {', '.join(node_names)}; metric {metric}, "
          f"threshold {threshold:g}, window {window:g} s from {format_utc(start)} "
          f"(samples every {sample:g} s, {interpolation} interpolation, decisions every {decision:g} s)")
    print(f"initial control node: {node_names[int(result.initial[0])]}")
    if rows:
        emit_rows(rows, ["time", "offset_s", "from", "to"], "table", floatfmt="{:.0f}")
    print(f"{len(rows)} handover(s)")
    return 0
