"""Shared pieces of the Krios experiments: the scenario, the paper's numbers, options
and output (CSV and figures in the house style (experiments/common.py))."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a fresh clone without installing
    sys.path.insert(0, str(ROOT))

from common import Stopwatch, matplotlib_agg, print_table, save_figure, write_csv  # noqa: E402,F401
from leonet.krios.config import KriosConfig, krios_config  # noqa: E402
from leonet.krios.manager import ZoneManager  # noqa: E402
from leonet.orbits import Constellation, load_constellation  # noqa: E402

#: the preset with shell 1, the paper's zones and their ground stations
SCENARIO = "krios-starlink"
#: satellites of the first shell in the paper
PAPER_SHELL = 1584
#: Starlink's periodic handover interval (s), the Fig. 10 baseline
STARLINK_PERIODIC_S = 15.0
#: Fig. 2 and Fig. 9: one orbital period "100 minutes"
PAPER_WINDOW_S = 100 * 60.0
DAY_S = 86400.0


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="reduced run for CI (seconds)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "krios", help="output folder")
    p.add_argument("--scenario", default=SCENARIO, help=f"scenario preset or file (default {SCENARIO})")
    return p


def setting(scenario: str = SCENARIO):
    """(constellation, krios config, zones manager over every satellite)."""
    c: Constellation = load_constellation(scenario)
    cfg: KriosConfig = krios_config(c.scenario)
    return c, cfg, ZoneManager(c)


def start_offsets(quick: bool, count: int = 4, spacing_s: float = 6 * 3600.0):
    """Start offsets for repeated windows: one in quick mode, else ``count`` spread over a day."""
    return [0.0] if quick else [k * spacing_s for k in range(count)]


def handover_stats(manager: ZoneManager, zone, policy: str = "krios", span_s: float = DAY_S,
                   lead_s: float = 5.0, init_s: float = 5.0, seed: int = 0) -> dict:
    """Time between handovers of one app in ``zone`` over ``span_s`` (trace-driven plan)."""
    import numpy as np
    from leonet.krios.timeline import plan
    p = plan(manager, zone, 0.0, span_s, policy, "proactive", lead_s=lead_s, init_s=init_s, seed=seed)
    iv = p.intervals_s()
    q = np.percentile(iv, [25, 50, 75]) if len(iv) else [float("nan")] * 3
    return {"zone": zone.name, "radius_km": zone.radius_km, "min_elevation_deg": zone.min_elevation_deg,
            "policy": policy, "handovers": int(len(iv) + 1), "per_day": len(iv) * DAY_S / span_s,
            "mean_s": float(np.mean(iv)) if len(iv) else float("nan"), "p25_s": float(q[0]),
            "median_s": float(q[1]), "p75_s": float(q[2]), "std_s": float(np.std(iv)) if len(iv) else float("nan"),
            "min_s": float(np.min(iv)) if len(iv) else float("nan"),
            "availability": p.availability(manager), "mean_instances": p.mean_instances(),
            "_intervals": iv, "_plan": p}
