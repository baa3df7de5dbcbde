"""Smoke runs of the three experiments in --quick mode: each writes its CSV and PNG."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("kubespace-results")   # shared: Fig. 10 and 11 reuse one path cache


@pytest.mark.parametrize("script, files", [
    ("kubespace_fig10.py", ["fig10.csv", "fig10.png"]),
    ("kubespace_fig11.py", ["fig11.csv", "fig11_summary.csv", "fig11.png"]),
    ("kubespace_table1.py", ["table1.csv", "table1.png"]),
])
def test_experiment_quick_run_writes_csv_and_png(out, script, files):
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / script), "--quick", "--out", str(out),
                          "--workers", "1"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "paper" in run.stdout
    for name in files:
        assert (out / name).stat().st_size > 0
    with open(out / files[0], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["constellation"] for r in rows} == {"starlink", "kuiper", "oneweb"}
    assert (out / files[-1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cnpa_gap_quick_run_compares_both_modes_with_the_optimum(out):
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / "kubespace_cnpa_gap.py"), "--quick",
                          "--out", str(out), "--workers", "1", "--constellations", "oneweb"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(out / "cnpa_gap.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["method"] for r in rows} == {"paper", "refined"}
    for r in rows:
        assert float(r["gap_mean_ms"]) >= -1e-6          # nothing beats the proven optimum
    refined = [r for r in rows if r["method"] == "refined"]
    assert all(float(r["gap_max_ms"]) <= 1.0 for r in refined)
    assert (out / "cnpa_gap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
