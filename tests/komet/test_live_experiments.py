"""The live Komet experiments in --quick mode (root; under the live lock): each runs on
the emulation, writes its CSVs and PNG, prints the paper's numbers beside ours, and
exits 0 only if no request failed."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_binary, require_root

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, csv_name", [("komet_fig7.py", "fig7_requests.csv"), ("komet_fig8.py", "fig8.csv")])
def test_live_experiment_quick_run(tmp_path, script, csv_name):
    require_root()
    require_binary("redis-server")
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / script), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "paper" in run.stdout
    with open(tmp_path / csv_name, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    if script == "komet_fig7.py":
        assert all(r["ok"] == "True" for r in rows)
        migs = list(csv.DictReader(open(tmp_path / "fig7_migrations.csv", newline="")))
        assert len(migs) == 1 and float(migs[0]["dual_replica_s"]) > 5
    else:
        assert [int(r["keys"]) for r in rows] == [1, 51, 101]
    assert (tmp_path / script.replace("komet_", "").replace(".py", ".png")).read_bytes()[:4] == b"\x89PNG"
