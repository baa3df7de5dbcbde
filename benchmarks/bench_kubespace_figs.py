"""Wall time of KubeSpace's live figure experiments (Figs. 7, 8, 9) on this machine, full and ``--quick``
(targets: each full run under 30 minutes, each quick run under 2 minutes).

Runs each experiment as a subprocess (as a user would: ``sudo python experiments/kubespace_fig<N>.py``),
streams its output, and times it; the load average before and after is recorded beside (the machine is
shared). The experiments' own results are written as usual (``--out``), so one benchmark run also
produces the figures.

    sudo .venv/bin/python benchmarks/bench_kubespace_figs.py [--quick] [--figs 7,8,9] [--out DIR] [-- EXTRA]

``EXTRA`` arguments go to every experiment (e.g. ``-- --agents 100``). Writes ``<out>/bench_figs.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import describe  # noqa: E402

TARGET_S = {"full": 30 * 60, "quick": 2 * 60}


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="time the --quick runs")
    p.add_argument("--figs", default="7,8,9", help="comma-separated figure numbers (default 7,8,9)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "kubespace", help="the experiments' output folder")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("needs root (live emulations): sudo .venv/bin/python benchmarks/bench_kubespace_figs.py")
    kind = "quick" if args.quick else "full"
    rows = []
    for fig in [f.strip() for f in args.figs.split(",") if f.strip()]:
        cmd = [sys.executable, str(ROOT / "experiments" / f"kubespace_fig{fig}.py"), "--out", str(args.out),
               *(["--quick"] if args.quick else []), *extra]
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        rc = subprocess.run(cmd).returncode
        wall = time.monotonic() - t0
        rows.append({"figure": f"Fig. {fig}", "kind": kind, "wall_s": round(wall, 1), "rc": rc,
                     "target_s": TARGET_S[kind], "within": wall < TARGET_S[kind], "load_before": round(load0, 2),
                     "load_after": round(os.getloadavg()[0], 2), "args": " ".join(cmd[2:])})
    print(f"\n{describe()}")
    print(f"{'figure':8} {'kind':6} {'wall s':>8} {'target s':>9} {'within':>7} {'load before/after':>18}  rc")
    for r in rows:
        print(f"{r['figure']:8} {r['kind']:6} {r['wall_s']:8.1f} {r['target_s']:9d} {str(r['within']):>7} "
              f"{r['load_before']:8.2f} / {r['load_after']:<7.2f}  {r['rc']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"bench_figs_{kind}.json").write_text(json.dumps(rows, indent=1))
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
