"""The live Komet experiments in --quick mode (root; under the live lock): each runs on
the emulation, writes its CSVs and PNG, prints the paper's numbers beside ours. The
quick windows are short (30-40 emulated s) but each crosses a migration, so what is
asserted is the paper's claim for it: the service moves and no request fails."""
import csv
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_binary, require_root

ROOT = Path(__file__).resolve().parents[2]


def _rows(path: Path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _quick(tmp_path: Path, script: str) -> str:
    require_root()
    require_binary("redis-server")
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / script), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "paper" in run.stdout
    png = tmp_path / script.replace("komet_", "").replace(".py", ".png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    return run.stdout


def test_fig7_quick_one_hand_off_without_a_failed_request(tmp_path):
    _quick(tmp_path, "komet_fig7.py")
    rows = _rows(tmp_path / "fig7_requests.csv")
    assert rows and all(r["ok"] == "True" for r in rows)
    migs = _rows(tmp_path / "fig7_migrations.csv")
    assert len(migs) == 1 and float(migs[0]["dual_replica_s"]) > 5
    assert {r["node"] for r in rows} == {migs[0]["source"], migs[0]["node"]}


def test_fig8_quick_replication_grows_with_the_data_and_reads_never_fail(tmp_path):
    _quick(tmp_path, "komet_fig8.py")
    rows = _rows(tmp_path / "fig8.csv")
    assert [int(r["keys"]) for r in rows] == [1, 6, 11]
    assert all(int(r["reads_failed"]) == 0 and int(r["reads"]) > 0 for r in rows)
    assert float(rows[-1]["komet_s"]) > float(rows[0]["komet_s"])
    assert float(rows[-1]["baseline_s"]) > float(rows[0]["baseline_s"])


def test_fig10_quick_iot_migrates_with_all_buoys_served(tmp_path):
    _quick(tmp_path, "komet_fig10.py")
    rows = _rows(tmp_path / "fig10_requests.csv")
    migs = _rows(tmp_path / "fig10_migrations.csv")
    assert len(migs) == 1, migs                                   # the many-to-one migration at +858 s
    assert {r["node"] for r in rows} == {migs[0]["source"], migs[0]["node"]}
    assert len({r["client"] for r in rows}) == 30
    failed = [r for r in rows if r["ok"] != "True"]
    assert len(failed) <= len(rows) // 100, failed[:5]            # 1 s timeout; a loaded CI machine may miss one
    assert all(0 < float(r["risk"]) < 1 for r in rows if r["ok"] == "True")


def test_fig12_quick_cdn_changes_replicas_hits_and_misses_without_failures(tmp_path):
    _quick(tmp_path, "komet_fig12.py")
    rows = _rows(tmp_path / "fig12_requests.csv")
    assert len(rows) >= 250 and len({r["client"] for r in rows}) == 50
    failed = [r for r in rows if r["ok"] != "True"]
    assert len(failed) <= len(rows) // 100, failed[:5]            # 500 ms timeout, as the paper's
    assert {r["hit"] for r in rows if r["ok"] == "True"} == {"0", "1"}
    replicas = [int(r["replicas"]) for r in _rows(tmp_path / "fig12_replicas.csv")]
    assert max(replicas) >= 2
    events = _rows(tmp_path / "fig12_events.csv")
    assert sum(e["event"] == "switch" for e in events) >= 3 and any(e["event"] == "undeploy_complete" for e in events)
