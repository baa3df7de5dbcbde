"""Output helpers shared by every experiment script: CSV files, aligned tables on
stdout, empirical CDFs, the matplotlib figure ending, a stopwatch."""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Callable, List, NoReturn, Optional, Sequence, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a fresh clone without installing
    sys.path.insert(0, str(ROOT))


def write_csv(path: Path, rows: List[dict], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})


def print_table(rows: List[dict], columns: Sequence[str], floatfmt: str = "{:.2f}") -> None:
    def cell(v):
        if isinstance(v, float):
            return floatfmt.format(v)
        return "" if v is None else str(v)
    text = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(t[i]) for t in text]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for t in text:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)))


def matplotlib_agg():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def cdf(values: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    """The empirical CDF of ``values`` to plot: the sorted values and the fraction at or below each."""
    x = np.sort(np.asarray(values, dtype=float))
    return x, np.arange(1, len(x) + 1) / max(1, len(x))


def save_figure(fig, png: Path, *also_written: Path, dpi: int = 120) -> None:
    """Lay out and save an experiment's figure, and say which files the run wrote."""
    fig.tight_layout()
    fig.savefig(png, dpi=dpi)
    print(f"\nwrote {', '.join(str(p) for p in (*also_written, png))}")


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


def run_main(main: Callable[[], Optional[int]]) -> NoReturn:
    """Run an experiment's ``main`` as a command: a user error (a bad option value, a station not in
    the scenario...) prints one line naming it and exits 2, as the ``leonet`` command does; Ctrl-C
    exits 130 after the run's own teardown."""
    from leonet.errors import LeonetError
    try:
        code = main()
    except LeonetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)
