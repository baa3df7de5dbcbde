"""Komet Figs. 13 and 14 (Sec. 8.1): one-to-one scheduling for one client in Redmond
WA over a 20-minute trace: network RTT to the serving satellite (Fig. 13) and time
between service migrations (Fig. 14) for MinMax and the one-to-one heuristic at
10 %, 25 % and 1 ms (500 us one way).

The main runs replay the artifact's trace configuration (36 x 22 over 180 deg) with
Celestial's 500 us trace hysteresis. Extra rows: the same strategies on exact
distances (no hysteresis), and on the full 72 x 22 shell the paper's text names.

    python experiments/komet_fig13_14.py [--quick]
"""
from __future__ import annotations

from komet_common import (PAPER_ONE_TO_ONE, Checks, exact, load_trace, parser,
                          print_table, quick_duration, rtt_and_gaps_figure, run, write_csv)
from leonet.komet import make_strategy

STRATEGIES = {"minmax": ("minmax", None), "10%": ("one-to-one", 0.10), "25%": ("one-to-one", 0.25),
              "1ms": ("one-to-one", "500us")}


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    duration = quick_duration(args.quick, 1200.0)
    rows, results = [], {}
    for setting in ("cache", "cache-1584"):
        trace = load_trace(setting, args.out, args.workers, duration_s=duration)
        variants = [("", trace)] + ([("exact", exact(trace))] if setting == "cache" else [])
        for suffix, tr in variants:
            for key, (name, thr) in STRATEGIES.items():
                run_key = key if setting == "cache" and not suffix else f"{key} ({suffix or setting})"
                row = run(run_key, make_strategy(name, thr), tr, results, setting=setting, strategy_key=key)
                paper = PAPER_ONE_TO_ONE[key]
                if setting == "cache" and not suffix:
                    row.update(paper_migrations=paper[0], paper_mean_between_s=paper[1], paper_mean_rtt_ms=paper[2],
                               paper_distinct_satellites=paper[3], paper_max_rtt_ms=paper[4])
                rows.append(row)

    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["run", "setting", "hysteresis_us", "migrations", "paper_migrations", "mean_between_migrations_s",
               "paper_mean_between_s", "mean_rtt_ms", "paper_mean_rtt_ms", "p99_rtt_ms", "min_rtt_ms", "max_rtt_ms",
               "paper_max_rtt_ms", "distinct_satellites", "paper_distinct_satellites", "mean_rtt_exact_ms"]
    write_csv(args.out / "fig13_14.csv", rows, columns)
    print("\nFigs. 13/14: one-to-one, Redmond WA, "
          f"{duration:g} s (RTT in ms, times in s; paper = Komet Sec. 8.1, [A] = its artifact)")
    print_table(rows, ["run", "migrations", "paper_migrations", "mean_between_migrations_s", "paper_mean_between_s",
                       "mean_rtt_ms", "paper_mean_rtt_ms", "max_rtt_ms", "paper_max_rtt_ms", "distinct_satellites",
                       "paper_distinct_satellites"])

    main_rows = {r["run"]: r for r in rows if r["setting"] == "cache" and r["hysteresis_us"] > 0}
    checks = Checks("Figs. 13/14")
    for key in ("10%", "25%", "1ms"):
        checks.within(f"mean RTT of {key} within ~10 % of MinMax", main_rows[key]["mean_rtt_ms"],
                      main_rows["minmax"]["mean_rtt_ms"], 0.12)
    checks.ordered("migrations MinMax >= 10 % >= 25 %",
                   [main_rows[k]["migrations"] for k in ("minmax", "10%", "25%")], ["MinMax", "10%", "25%"])
    checks.ordered("mean time between migrations 25 % >= 10 % >= MinMax",
                   [main_rows[k]["mean_between_migrations_s"] for k in ("25%", "10%", "minmax")],
                   ["25%", "10%", "MinMax"])
    checks.report(args.out / "fig13_14_checks.csv")

    rtt_and_gaps_figure(args.out, "fig13_14", results, list(STRATEGIES), PAPER_ONE_TO_ONE,
                        "Fig. 13: RTT to the serving satellite (one-to-one)", "Fig. 14: time between migrations")
    return 0


if __name__ == "__main__":
    from common import run_main
    run_main(main)
