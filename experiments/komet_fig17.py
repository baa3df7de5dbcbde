"""Komet Fig. 17 (Sec. 8.2): the latency/migration trade-off of the many-to-one
heuristic over a one-hour trace of the 30 DART buoys: thresholds 0-50 % in steps of
5 points, with MinMax and Sticky; 99th-percentile RTT against migration count.

    python experiments/komet_fig17.py [--quick]
"""
from __future__ import annotations

from scipy.stats import spearmanr

from komet_common import (PAPER_PARETO, PAPER_PARETO_MEAN_RTT, Checks, load_trace, matplotlib_agg, parser,
                          print_table, quick_duration, run, save_figure, write_csv)
from leonet.komet import make_strategy

THRESHOLDS = [x / 100 for x in range(0, 51, 5)]


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    duration = quick_duration(args.quick, 3600.0, 180.0)
    trace = load_trace("iot", args.out, args.workers, duration_s=duration)
    rows, results = [], {}
    runs = [("minmax", make_strategy("minmax"))] + \
        [(f"{round(100 * t)}%", make_strategy("many-to-one", t)) for t in THRESHOLDS] + \
        [("sticky", make_strategy("sticky", 0.1))]
    for key, strategy in runs:
        row = run(key, strategy, trace, results,
                  threshold=None if key in ("minmax", "sticky") else float(key.rstrip("%")) / 100)
        paper = PAPER_PARETO.get(key)
        if paper:
            row.update(paper_migrations=paper[0], paper_p99_rtt_ms=paper[1],
                       paper_mean_rtt_ms=PAPER_PARETO_MEAN_RTT.get(key))
        rows.append(row)

    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["run", "threshold", "migrations", "paper_migrations", "p99_rtt_ms", "paper_p99_rtt_ms", "mean_rtt_ms",
               "paper_mean_rtt_ms", "max_rtt_ms", "distinct_satellites"]
    write_csv(args.out / "fig17.csv", rows, columns)
    print(f"\nFig. 17: many-to-one thresholds, 30 DART buoys, {duration:g} s "
          "(paper: the artifact's points; its text gives MinMax and 0 % both 348)")
    print_table(rows, columns)

    by = {r["run"]: r for r in rows}
    sweep = [r for r in rows if r["threshold"] is not None]
    checks = Checks("Fig. 17")
    checks.ordered("migrations MinMax >= 0 %", [by["minmax"]["migrations"], by["0%"]["migrations"]],
                   ["MinMax", "0%"])
    checks.factor("0 % migrates far more than 10 %", by["0%"]["migrations"], by["10%"]["migrations"], 5.0)
    checks.ordered("migrations 10 % >= 25 %", [by["10%"]["migrations"], by["25%"]["migrations"]], ["10%", "25%"])
    rho_m = spearmanr([r["threshold"] for r in sweep], [r["migrations"] for r in sweep]).statistic
    rho_p = spearmanr([r["threshold"] for r in sweep], [r["p99_rtt_ms"] for r in sweep]).statistic
    checks.add("a Pareto front: migrations fall as the threshold rises (Spearman rho <= -0.9)", rho_m <= -0.9,
               f"rho = {rho_m:.2f}")
    checks.add("a Pareto front: p99 RTT rises with the threshold (Spearman rho >= 0.7)", rho_p >= 0.7,
               f"rho = {rho_p:.2f}")
    checks.add("RMS (0 %) has a lower p99 than MinMax's sum", by["0%"]["p99_rtt_ms"] <= by["minmax"]["p99_rtt_ms"],
               f"{by['0%']['p99_rtt_ms']:.2f} vs {by['minmax']['p99_rtt_ms']:.2f} ms")
    checks.report(args.out / "fig17_checks.csv")

    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for source, color, marker, mkey, pkey in (("ours", "C0", "o", "migrations", "p99_rtt_ms"),
                                             ("paper [A]", "C3", "x", "paper_migrations", "paper_p99_rtt_ms")):
        pts = [(r[pkey], r[mkey], r["run"]) for r in rows if r.get(mkey)]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=color, marker=marker, label=source)
        line = [(r[pkey], r[mkey]) for r in sweep if r.get(mkey)]
        ax.plot([p[0] for p in line], [p[1] for p in line], color=color, alpha=0.4)
        for x, y, label in pts:
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7, color=color)
    ax.set_yscale("log")
    ax.set(xlabel="99th percentile RTT (ms)", ylabel="migrations (log)",
           title=f"Fig. 17: many-to-one thresholds 0-50 %, {duration / 3600:g} h")
    ax.legend()
    save_figure(fig, args.out / "fig17.png", args.out / "fig17.csv", args.out / "fig17_checks.csv")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
