"""Komet Figs. 18 and 19 (Sec. 8.3): many-to-many scheduling for 50 CDN clients in
the north-western USA over a 20-minute trace: RTT from each client to its replica
(Fig. 18) and concurrent replicas per second (Fig. 19) for MinMax (every client its
closest satellite) and the hitting-set heuristic at 10 %, 25 % and "1 ms" (1,000 us
one way, as in the artifact).

Extra rows: ties broken towards the current replicas instead of every satellite ever
used; an exact minimum hitting set; the artifact's fixed caps of 3 and 5 replicas;
and exact distances (no trace hysteresis).

    python experiments/komet_fig18_19.py [--quick]
"""
from __future__ import annotations

import numpy as np

from komet_common import (PAPER_MANY_TO_MANY, Checks, exact, load_trace, matplotlib_agg, parser, print_table,
                          quick_duration, rtt_cdf, run, save_figure, write_csv)
from leonet.komet import make_strategy

STRATEGIES = {"minmax": ("minmax-many", None, {}), "10%": ("many-to-many", 0.10, {}),
              "25%": ("many-to-many", 0.25, {}), "1ms": ("many-to-many", "1000us", {})}
EXTRAS = {"10% (tie: current)": ("many-to-many", 0.10, {"tie_break": "current"}),
          "10% (exact set)": ("many-to-many", 0.10, {"hitting_set": "exact"}),
          "10% (max 3)": ("many-to-many", 0.10, {"max_replicas": 3}),
          "10% (max 5)": ("many-to-many", 0.10, {"max_replicas": 5})}


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    duration = quick_duration(args.quick, 1200.0, 60.0)
    trace = load_trace("cdn", args.out, args.workers, duration_s=duration)
    rows, results = [], {}
    plan = [(k, v, trace) for k, v in STRATEGIES.items()] + [(k, v, trace) for k, v in EXTRAS.items()] + \
        [(f"{k} (exact)", v, exact(trace)) for k, v in STRATEGIES.items()]
    for key, (name, thr, kw), tr in plan:
        row = run(key, make_strategy(name, thr, **kw), tr, results)
        if key in PAPER_MANY_TO_MANY:
            p = PAPER_MANY_TO_MANY[key]
            row.update(paper_mean_rtt_ms=p[0], paper_max_replicas=p[1], paper_mean_replicas=p[2],
                       paper_min_replicas=p[3], paper_median_replicas=p[4], paper_max_rtt_ms=p[5])
        rows.append(row)

    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["run", "hysteresis_us", "mean_rtt_ms", "paper_mean_rtt_ms", "max_rtt_ms", "paper_max_rtt_ms",
               "mean_replicas", "paper_mean_replicas", "max_replicas", "paper_max_replicas", "min_replicas",
               "paper_min_replicas", "median_replicas", "paper_median_replicas", "replicas_started",
               "client_switches", "decision_us_per_step"]
    write_csv(args.out / "fig18_19.csv", rows, columns)
    print(f"\nFigs. 18/19: many-to-many, 50 CDN clients, {duration:g} s "
          "(RTT in ms; paper = Komet Sec. 8.3, [A] = its artifact)")
    print_table(rows, ["run", "mean_rtt_ms", "paper_mean_rtt_ms", "mean_replicas", "paper_mean_replicas",
                       "max_replicas", "paper_max_replicas", "min_replicas", "paper_min_replicas",
                       "replicas_started", "decision_us_per_step"])

    by = {r["run"]: r for r in rows}
    checks = Checks("Figs. 18/19")
    for key in ("10%", "25%", "1ms"):
        checks.within(f"mean RTT of {key} within ~10 % of MinMax", by[key]["mean_rtt_ms"], by["minmax"]["mean_rtt_ms"],
                      0.12)
    checks.ordered("mean replicas MinMax > 10 % > 25 % > 1 ms",
                   [by[k]["mean_replicas"] for k in ("minmax", "10%", "25%", "1ms")], ["MinMax", "10%", "25%", "1ms"],
                   strict=True)
    checks.report(args.out / "fig18_19_checks.csv")

    plt = matplotlib_agg()
    fig, (ax18, ax19) = plt.subplots(1, 2, figsize=(12, 4.2))
    keys = list(STRATEGIES)
    rtt_cdf(ax18, results, keys, {k: v[0] for k, v in PAPER_MANY_TO_MANY.items()},
            "Fig. 18: RTT clients to their replica (many-to-many)")
    for i, key in enumerate(keys):
        v = np.sort(results[key].replicas)
        ax19.step(v, np.arange(1, len(v) + 1) / len(v), where="post", color=f"C{i}",
                  label=f"{key} (mean {v.mean():.2f})")
        ax19.axvline(PAPER_MANY_TO_MANY[key][2], color=f"C{i}", linestyle=":", linewidth=1)
    ax19.set(xlabel="concurrent replicas", ylabel="CDF (seconds)", title="Fig. 19: replicas per second")
    ax19.legend(fontsize=7, title="ours; dotted: paper's mean", title_fontsize=7)
    save_figure(fig, args.out / "fig18_19.png", args.out / "fig18_19.csv", args.out / "fig18_19_checks.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
