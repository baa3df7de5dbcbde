"""The orbital CLI: real commands, real output, exit status 2 on bad input."""
import csv
import io
import json
import subprocess
import sys

import pytest

from leonet.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, errtext = capsys.readouterr()
    return code, out, errtext


def test_positions_of_starlink_shell1(capsys):
    code, out, _ = run(capsys, "positions", "starlink-shell1", "--at", "2026-01-31T12:00:00Z")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1584
    assert list(rows[0]) == ["name", "lat_deg", "lon_deg", "alt_km", "x_km", "y_km", "z_km"]
    assert all(535 <= float(r["alt_km"]) <= 565 for r in rows)


def test_positions_json_and_tle(capsys):
    code, out, _ = run(capsys, "positions", "iridium", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 66
    code, out, _ = run(capsys, "tle", "iridium")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 66 * 3 and lines[1].startswith("1 ") and lines[2].startswith("2 ")


def test_visible_lists_satellites_above_min_elevation(capsys):
    code, out, _ = run(capsys, "visible", "starlink-shell1", "--from", "Kenansville_FL", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and rows
    assert all(r["elevation_deg"] >= 25 for r in rows)
    assert [r["elevation_deg"] for r in rows] == sorted((r["elevation_deg"] for r in rows), reverse=True)
    code, out, _ = run(capsys, "visible", "starlink-shell1", "--from", "10.0,20.0", "--min-elevation", "0",
                       "--format", "csv")
    assert code == 0


@pytest.mark.parametrize("argv,fragment", [
    (["positions", "nosuch"], "unknown preset"),
    (["positions", "starlink-shell1", "--at", "noon"], "ISO 8601"),
    (["visible", "starlink-shell1", "--from", "Atlantis"], "not in this scenario"),
    (["visible", "starlink-shell1", "--from", "Berlin", "--min-elevation", "95"], "[0, 90]"),
])
def test_bad_input_exits_2_without_traceback(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "leonet.cli.main", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_runs(capsys):
    code, out, _ = run(capsys, "demo", "--orbits", "--city", "Tokyo")
    assert code == 0 and "Tokyo" in out and "sees" in out
