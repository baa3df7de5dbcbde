"""Smoke runs of the Komet experiments in --quick mode: each writes its CSVs and PNG
and prints the paper's numbers beside ours."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("komet-results")   # shared: Figs. 15/16 and 17 reuse the IoT trace cache


@pytest.mark.parametrize("script, stem, runs", [
    ("komet_fig13_14.py", "fig13_14", {"minmax", "10%", "25%", "1ms"}),
    ("komet_fig15_16.py", "fig15_16", {"minmax", "10%", "25%", "sticky"}),
    ("komet_fig17.py", "fig17", {"minmax", "0%", "25%", "50%", "sticky"}),
    ("komet_fig18_19.py", "fig18_19", {"minmax", "10%", "25%", "1ms"}),
    ("komet_t5_windows.py", "t5_windows", {"minmax", "10%", "25%", "1ms", "sticky"}),
])
def test_experiment_quick_run_writes_csv_and_png(out, script, stem, runs):
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / script), "--quick", "--out", str(out),
                          "--workers", "1"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "paper" in run.stdout and "T5 orderings" in run.stdout
    with open(out / f"{stem}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert runs <= {r["run"] for r in rows}
    assert all(float(r["mean_rtt_ms"]) > 0 for r in rows)
    with open(out / f"{stem}_checks.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) >= 3
    assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
