"""Smoke runs of the trace-driven experiments in --quick mode: each writes CSV and PNG
and prints the paper's numbers beside ours."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, files", [
    ("krios_table1.py", ["table1.csv", "table1.png"]),
    ("krios_fig2.py", ["fig2.csv", "fig2_summary.csv", "fig2_curve.csv", "fig2.png"]),
    ("krios_fig10.py", ["fig10.csv", "fig10.png"]),
    ("krios_fig11.py", ["fig11.csv", "fig11.png"]),
    ("krios_fig12.py", ["fig12.csv", "fig12.png"]),
])
def test_experiment_quick_run_writes_csv_and_png(tmp_path, script, files):
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / script), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "paper" in run.stdout
    for name in files:
        assert (tmp_path / name).stat().st_size > 0
    with open(tmp_path / files[0], newline="") as fh:
        assert len(list(csv.DictReader(fh))) >= 2
    assert (tmp_path / files[-1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fig13_decisions_alone_without_root(tmp_path):
    """Fig. 13's decisions-only mode: both schedulers decide every pod, Krios' pick is timed beside the no-op's."""
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / "krios_fig13.py"), "--decisions-only", "--quick",
                          "--repeats", "1", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "paper" in run.stdout
    with open(tmp_path / "fig13_decisions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["scheduler"] for r in rows} == {"krios", "noop"}
    assert all(float(r["decide_ms_mean"]) > 0 for r in rows)
