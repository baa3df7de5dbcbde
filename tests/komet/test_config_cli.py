"""The ``komet:`` section, the presets, and ``leonet komet simulate|trace``."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leonet.cli.main import main
from leonet.errors import ConfigError
from leonet.komet.config import komet_config, parse_komet_section, resolve_clients
from leonet.orbits import load_scenario

from .helpers import SMALL_SCENARIO

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def scenario(tmp_path):
    path = tmp_path / "komet-small.yaml"
    path.write_text(SMALL_SCENARIO)
    return str(path)


def test_section_defaults_and_values(scenario):
    d = parse_komet_section(None)
    assert (d.strategy, str(d.threshold), d.trace.hysteresis_us, d.clients) == ("many-to-one", "10%", 500.0, None)
    cfg = komet_config(load_scenario(scenario))
    assert cfg.strategy == "many-to-many" and cfg.threshold.relative == 0.25
    assert (cfg.trace.start_offset_s, cfg.trace.duration_s, cfg.trace.step_s) == (100, 120, 2)
    assert cfg.make_strategy().label() == "many-to-many 25%"
    cfg = parse_komet_section({"strategy": "one-to-one", "threshold": "500us"})
    assert cfg.threshold.absolute_us == 500 and cfg.make_strategy().label() == "one-to-one 500us"


@pytest.mark.parametrize("raw, field, hint", [
    ({"stratgy": "sticky"}, "komet.stratgy", "strategy"),
    ({"strategy": "minimax"}, "komet.strategy", "minmax"),
    ({"threshold": "ten percent"}, "komet.threshold", "percentage"),
    ({"strategy": "many-to-one", "threshold": 1.2}, "komet.threshold", "below 100"),
    ({"strategy": "sticky", "threshold": "1ms"}, "komet.threshold", "relative"),
    ({"trace": {"duration_s": -5}}, "komet.trace.duration_s", "> 0"),
    ({"trace": {"hysterisis_us": 0}}, "komet.trace.hysterisis_us", "hysteresis_us"),
    ({"trace": {"step_s": 10, "duration_s": 5}}, "komet.trace.duration_s", "shorter"),
    ({"clients": []}, "komet.clients", "list"),
    ({"clients": ["a", "a"]}, "komet.clients", "once"),
    ({"active_only": "yes"}, "komet.active_only", "true or false"),
    ({"max_replicas": 0}, "komet.max_replicas", ">= 1"),
    ({"trace": 5}, "komet.trace", "mapping"),
])
def test_bad_values_name_the_field_and_the_fix(raw, field, hint):
    with pytest.raises(ConfigError) as exc:
        parse_komet_section(raw)
    assert exc.value.field == field
    assert hint in str(exc.value)


def test_clients_are_names_or_patterns_in_scenario_order(scenario):
    sc = load_scenario(scenario)
    assert resolve_clients(sc, ["seattle", "p*"]) == ["portland", "seattle"]
    assert resolve_clients(sc, None) == ["portland", "boise", "seattle", "hilo"]
    with pytest.raises(ConfigError, match="did you mean 'boise'"):
        resolve_clients(sc, ["boize"])


@pytest.mark.parametrize("preset, clients, strategy", [
    ("komet-cache", 1, "one-to-one"), ("komet-cache-1584", 1, "one-to-one"), ("komet-iot", 30, "many-to-one"),
    ("komet-cdn", 50, "many-to-many")])
def test_presets_hold_the_papers_clients_and_settings(preset, clients, strategy):
    sc = load_scenario(preset)
    cfg = komet_config(sc)
    assert len(resolve_clients(sc, cfg.clients)) == clients and cfg.strategy == strategy
    assert sc.start.year == 2023 and cfg.trace.duration_s == 1200 and cfg.trace.hysteresis_us == 500


def test_cli_simulate_prints_the_metrics_of_each_run(scenario, capsys, tmp_path):
    rc = main(["komet", "simulate", scenario, "--strategy", "minmax-many,many-to-many", "--threshold", "0.1,25%",
               "--no-cache", "--assignments", str(tmp_path / "a.csv"), "--timeline", str(tmp_path / "t.csv")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "3 client(s), 80 satellites" in out
    for label in ("minmax-many", "many-to-many 10%", "many-to-many 25%"):
        assert label in out
    lines = (tmp_path / "a-3.csv").read_text().splitlines()
    assert lines[0] == "t,offset_s,ground_station,satellite,distance" and len(lines) == 1 + 60 * 3
    assert lines[1].split(",")[:3] == ["0", "100", "portland"]
    with open(tmp_path / "t-2.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60 and rows[0]["migration"] == "0"
    assert {int(r["replicas"]) for r in rows} <= {0, 1, 2, 3}
    assert sum(int(r["migration"]) for r in rows) >= 1 and float(rows[5]["mean_rtt_ms"]) > 0


def test_cli_simulate_json_and_overrides(scenario, capsys, tmp_path):
    rc = main(["komet", "simulate", scenario, "--strategy", "sticky", "--clients", "portland,boise",
               "--duration", "60", "--hysteresis", "0", "--cache", str(tmp_path), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["clients"] == ["portland", "boise"] and doc["hysteresis_us"] == 0
    (res,) = doc["results"]
    assert res["strategy"] == "sticky 25%" and res["steps"] == 30 and res["mean_rtt_ms"] > 0
    assert any(p.name.endswith("delay.npy") for p in tmp_path.iterdir())


def test_cli_trace_export(scenario, capsys, tmp_path):
    out = tmp_path / "t.npz"
    assert main(["komet", "trace", scenario, "--duration", "20", "--no-cache", "-o", str(out)]) == 0
    with np.load(out) as z:
        assert z["delay_us"].shape == (10, 3, 80) and list(z["clients"]) == ["portland", "boise", "seattle"]


def test_cli_streams_long_traces_with_the_same_results(scenario, capsys, monkeypatch):
    from leonet.cli import komet_cmds
    args = ["komet", "simulate", scenario, "--strategy", "many-to-many,many-to-one", "--no-cache", "--format", "json"]
    assert main(args) == 0
    held = json.loads(capsys.readouterr().out)["results"]
    monkeypatch.setattr(komet_cmds, "STREAM_ABOVE_BYTES", 0)
    assert main(args) == 0
    captured = capsys.readouterr()
    streamed = json.loads(captured.out)["results"]
    assert "streaming" in captured.err
    for a, b in zip(held, streamed):
        for key in ("migrations", "mean_rtt_ms", "mean_replicas", "replicas_started", "p99_rtt_ms"):
            assert a[key] == b[key]
    assert main(["komet", "simulate", scenario, "--strategy", "sticky", "--no-cache"]) == 2
    assert "shorter period" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--strategy", "one-to-won"], "did you mean 'one-to-one'"),
    (["--threshold", "10 parsecs"], "--threshold"),
    (["--strategy", "one-to-one"], "exactly one client"),
    (["--hours", "-2"], "--hours"),
    (["--clients", "boize"], "did you mean 'boise'"),
    (["--tie-break", "never"], "invalid choice"),
    (["--workers", "0"], "--workers"),
])
def test_cli_bad_input_exits_2_with_one_line(scenario, capsys, args, message):
    try:
        rc = main(["komet", "simulate", scenario, "--no-cache", *args])
    except SystemExit as exc:       # argparse's own errors
        rc = exc.code
    captured = capsys.readouterr()
    assert rc == 2 and message in captured.err and captured.out == ""


def test_cli_bad_input_from_the_command_has_no_traceback(scenario):
    run = subprocess.run([sys.executable, "-m", "leonet.cli.main", "komet", "simulate", scenario, "--no-cache",
                          "--strategy", "many-to-one", "--threshold", "1.5"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        "leonet: error: --threshold: a switching threshold must be below 100 % (got 1.5); fix: use e.g. 0.1 (10 %)"]


def test_active_only_without_a_bounding_box_is_refused(tmp_path, capsys):
    path = tmp_path / "nobox.yaml"
    text = SMALL_SCENARIO.split("topology:")[0] + "komet:" + SMALL_SCENARIO.split("komet:")[1]
    path.write_text(text)
    assert main(["komet", "simulate", str(path), "--active-only", "--no-cache"]) == 2
    assert "no topology.bounding_box" in capsys.readouterr().err


def test_the_section_is_checked_when_the_scenario_loads(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL_SCENARIO.replace("clients: [portland, boise, seattle]", "clients: [portland, boize]"))
    with pytest.raises(ConfigError) as exc:
        load_scenario(str(path))
    assert exc.value.field == "komet.clients" and "did you mean 'boise'" in str(exc.value)
    assert main(["info", str(path)]) == 2          # any command refuses it, before doing anything
    assert "komet.clients" in capsys.readouterr().err
