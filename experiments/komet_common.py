"""Shared pieces of the Komet scheduling experiments (Figs. 13-19): the paper's three
settings and its numbers, cached traces, one row per strategy run, and the checks of
the spec's T5 orderings."""
from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from common import ROOT, Stopwatch, matplotlib_agg, print_table, save_figure, write_csv  # noqa: F401
from leonet.komet import SimulationResult, Strategy, Trace, build_trace, simulate
from leonet.komet.config import komet_config, resolve_clients
from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine


@dataclass(frozen=True)
class Setting:
    preset: str
    title: str


SETTINGS: Dict[str, Setting] = {
    "cache": Setting("komet-cache", "one client, Redmond WA (36 x 22 over 180 deg, the artifact's trace)"),
    "cache-1584": Setting("komet-cache-1584", "one client, Redmond WA (72 x 22, the paper's text)"),
    "iot": Setting("komet-iot", "30 DART buoys, North Pacific"),
    "cdn": Setting("komet-cdn", "50 CDN clients, north-western USA"),
}

# The paper's numbers (Sec. 8) and, where it gives them, the artifact's (scheduling/graphs.ipynb).
#: one-to-one: migrations, mean s between migrations, mean RTT ms, distinct satellites [A], max RTT ms [A]
PAPER_ONE_TO_ONE = {"minmax": (16, 68.7, 4.98, 13, 6.548), "10%": (12, 98.4, 4.99, 13, 6.548),
                    "25%": (9, 127.4, 5.22, 10, 7.468), "1ms": (12, 98.4, 5.04, 13, 6.548)}
#: many-to-one: migrations, mean s between, mean RTT ms, distinct satellites [A], max RTT ms [A]
PAPER_MANY_TO_ONE = {"minmax": (113, 10.33, 19.31, 26, 69.97), "10%": (5, 195.0, 19.78, 6, 66.89),
                     "25%": (3, 386.0, 21.34, 4, 75.25), "sticky": (4, 266.75, 19.68, 5, 70.36)}
#: one-hour Pareto sweep [A]: migrations, p99 RTT ms (the paper's text: MinMax and 0 % at 348)
PAPER_PARETO = {"minmax": (384, 68.44), "0%": (348, 51.91), "5%": (18, 58.62), "10%": (23, 62.66),
                "15%": (13, 66.31), "20%": (13, 65.79), "25%": (9, 64.41), "30%": (7, 66.12),
                "35%": (6, 74.10), "40%": (5, 70.85), "45%": (4, 74.71), "50%": (4, 75.92),
                "sticky": (13, 71.66)}
PAPER_PARETO_MEAN_RTT = {"minmax": 19.33, "0%": 19.75}
#: many-to-many: mean RTT ms, max replicas, mean replicas, min [A], median [A], max RTT ms [A]
PAPER_MANY_TO_MANY = {"minmax": (4.36, 15, 9.84, 6, 9, 5.44), "10%": (4.39, 10, 4.36, 2, 4, 5.56),
                      "25%": (4.73, 6, 2.25, 1, 2, 6.48), "1ms": (4.79, 4, 1.82, 1, 2, 6.48)}


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="reduced run (seconds): a short trace")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "komet", help="output folder")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes that build the trace (default 2)")
    return p


def load_trace(setting: str, out: Path, workers: int, duration_s: Optional[float] = None,
               start_offset_s: Optional[float] = None) -> Trace:
    """The setting's trace (its preset's ``komet:`` section), cached under ``out/cache``."""
    c = load_constellation(SETTINGS[setting].preset)
    cfg = komet_config(c.scenario)
    clients = resolve_clients(c.scenario, cfg.clients)
    tr = cfg.trace
    watch = Stopwatch()
    trace = build_trace(TopologyEngine(c), clients,
                        tr.start_offset_s if start_offset_s is None else start_offset_s,
                        tr.duration_s if duration_s is None else duration_s, tr.step_s, tr.hysteresis_us,
                        cache_dir=out / "cache", workers=workers, progress=True)
    print(f"{setting}: {SETTINGS[setting].title}; {len(clients)} client(s), {c.num_satellites} satellites, "
          f"{len(trace)} steps from +{trace.offsets_s[0]:g} s, hysteresis {trace.hysteresis_us:g} us "
          f"({watch():.1f} s)", flush=True)
    return trace


def exact(trace: Trace) -> Trace:
    """The same trace without the 500 us hysteresis: strategies see exact distances."""
    return dataclasses.replace(trace, delay_us=trace.true_delay_us, hysteresis_us=0.0, _sat_cache={})


def run(key: str, strategy: Strategy, trace: Trace, results: Dict[str, SimulationResult], **extra) -> dict:
    """Simulate, keep the result under ``key``, and return its summary row."""
    res = simulate(strategy, trace)
    results[key] = res
    row = {"run": key, **res.summary(), "hysteresis_us": trace.hysteresis_us, **extra}
    return row


def rtt_cdf(ax, results: Dict[str, SimulationResult], keys: Sequence[str], paper_means: Dict[str, float],
            title: str) -> None:
    """CDFs of per-sample RTT, with the paper's means as dotted lines of the same colour."""
    for i, key in enumerate(keys):
        v = np.sort(results[key].rtt_ms())
        color = f"C{i}"
        ax.plot(v, np.arange(1, len(v) + 1) / len(v), color=color, label=f"{key} (mean {v.mean():.2f})")
        if key in paper_means:
            ax.axvline(paper_means[key], color=color, linestyle=":", linewidth=1)
    ax.set(xlabel="network RTT (ms)", ylabel="CDF", title=title)
    ax.legend(fontsize=7, title="ours; dotted: paper's mean", title_fontsize=7)


def gaps_plot(ax, results: Dict[str, SimulationResult], keys: Sequence[str], paper_means: Dict[str, float],
              title: str) -> None:
    """Times between migrations per strategy: ours as points and box, the paper's mean as a star."""
    data = [results[k].time_between_migrations_s for k in keys]
    ax.boxplot([d if len(d) else [np.nan] for d in data], showfliers=False)
    for i, d in enumerate(data, start=1):
        ax.plot(np.full(len(d), i) + np.linspace(-0.15, 0.15, len(d)), d, ".", color="C0", alpha=0.6)
        ax.plot(i, np.mean(d) if len(d) else np.nan, "o", color="C0", label="ours (mean)" if i == 1 else None)
        if keys[i - 1] in paper_means:
            ax.plot(i, paper_means[keys[i - 1]], "*", color="C3", markersize=10,
                    label="paper (mean)" if i == 1 else None)
    ax.set_xticks(range(1, len(keys) + 1), keys)
    ax.set(ylabel="time between migrations (s)", title=title)
    ax.legend(fontsize=7)


def rtt_and_gaps_figure(out: Path, stem: str, results: Dict[str, SimulationResult], keys: Sequence[str],
                        paper: Dict[str, tuple], rtt_title: str, gaps_title: str) -> None:
    """The figure pair of Figs. 13/14 and 15/16: RTT CDFs and times between migrations
    (``paper[key]``: migrations, mean s between, mean RTT ms, ...), then the files."""
    plt = matplotlib_agg()
    fig, (ax_rtt, ax_gaps) = plt.subplots(1, 2, figsize=(12, 4.2))
    rtt_cdf(ax_rtt, results, keys, {k: v[2] for k, v in paper.items()}, rtt_title)
    gaps_plot(ax_gaps, results, keys, {k: v[1] for k, v in paper.items()}, gaps_title)
    save_figure(fig, out / f"{stem}.png", out / f"{stem}.csv", out / f"{stem}_checks.csv")


# ----------------------------------------------------------------------------- T5 checks

class Checks:
    """The spec's qualitative parity (T5) for identical-in-spirit traces: named
    orderings, each printed with its numbers and whether it holds."""

    def __init__(self, figure: str):
        self.figure = figure
        self.rows: List[dict] = []

    def add(self, name: str, holds: Optional[bool], detail: str) -> None:
        """A check; ``holds`` None means it does not apply (printed as n/a)."""
        self.rows.append({"figure": self.figure, "check": name, "holds": None if holds is None else bool(holds),
                          "detail": detail})

    def within(self, name: str, value: float, reference: float, tolerance: float) -> None:
        ratio = value / reference
        self.add(name, ratio <= 1.0 + tolerance, f"{value:.2f} / {reference:.2f} = {ratio:.3f}")

    def ordered(self, name: str, values: Sequence[float], labels: Sequence[str], strict: bool = False) -> None:
        ok = all((a > b) if strict else (a >= b) for a, b in zip(values, values[1:]))
        rel = " > " if strict else " >= "
        self.add(name, ok, rel.join(f"{l} {v:g}" for l, v in zip(labels, values)))

    def factor(self, name: str, big: float, small: float, at_least: float) -> None:
        f = big / small if small else float("inf")
        self.add(name, f >= at_least, f"{big:g} / {small:g} = {f:.1f} (>= {at_least:g})")

    def report(self, path: Path) -> bool:
        print(f"\nT5 orderings ({self.figure}):")
        for r in self.rows:
            mark = "n/a" if r["holds"] is None else "holds" if r["holds"] else "FAILS"
            print(f"  [{mark}] {r['check']}: {r['detail']}")
        write_csv(path, self.rows, ["figure", "check", "holds", "detail"])
        return all(r["holds"] is not False for r in self.rows)


def quick_duration(quick: bool, full: float, short: float = 120.0) -> float:
    return short if quick else full
