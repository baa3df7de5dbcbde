"""Scenario input that used to slip through or crash (issue: hardening, item 5).

Each case goes through the command line: exit status 2, one line naming the field,
no traceback; and every command validates every section.
"""
import subprocess
import sys

import pytest
import yaml

from leonet.cli.main import main

from .cases import scenario, walker


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


def write(tmp_path, raw, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw) if not isinstance(raw, str) else raw)
    return str(path)


def assert_rejected(capsys, argv, field_part):
    code, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("leonet: error: "), err
    assert field_part in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def test_binary_file_is_not_a_scenario(tmp_path, capsys):
    path = tmp_path / "blob.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    assert_rejected(capsys, ["info", str(path)], "not UTF-8 text")


def test_deeply_nested_yaml_is_refused_quickly(tmp_path, capsys):
    for text in ("[" * 100000, "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 3000))):
        path = write(tmp_path, text, "deep.yaml")
        assert_rejected(capsys, ["info", path], "too complex")


def test_duplicate_keys_are_refused_at_every_level(tmp_path, capsys):
    text = yaml.safe_dump(scenario()) + "name: again\n"
    assert_rejected(capsys, ["info", write(tmp_path, text)], "appears twice")
    nested = yaml.safe_dump(scenario(emulation={"backend": "nfqueue"})).replace(
        "backend: nfqueue", "backend: nfqueue\n  backend: netem")
    assert_rejected(capsys, ["info", write(tmp_path, nested)], "'backend' appears twice")


@pytest.mark.parametrize("raw, field", [
    (scenario(shells=[walker(altitude_km=float("nan"))]), "shells[0].altitude_km"),
    (scenario(shells=[walker(inclination_deg=float("nan"))]), "shells[0].inclination_deg"),
    (scenario(shells=[walker(altitude_km=float("inf"))]), "shells[0].altitude_km"),
    (scenario(ground_stations=[{"name": "x", "lat_deg": float("nan"), "lon_deg": 1}]), "ground_stations[0].lat_deg"),
    (scenario(defaults={"min_elevation_deg": float("nan")}), "defaults.min_elevation_deg"),
    (scenario(topology={"speed_of_light_factor": float("nan")}), "topology.speed_of_light_factor"),
    (scenario(emulation={"step_s": float("inf")}), "emulation.step_s"),
])
def test_nan_and_infinity_are_refused(tmp_path, capsys, raw, field):
    line = assert_rejected(capsys, ["info", write(tmp_path, raw)], field)
    assert "finite" in line


def test_nan_latitude_with_leonet_topology(tmp_path, capsys):
    raw = scenario(ground_stations=[{"name": "x", "lat_deg": float("nan"), "lon_deg": 1}])
    assert_rejected(capsys, ["topology", write(tmp_path, raw), "--at", "2026-01-31T12:00:00Z"],
                    "ground_stations[0].lat_deg")


@pytest.mark.parametrize("stations, field, problem", [
    ([("New York", 40.7, -74.0), ("New-York", 40.7, -74.1)], "ground_stations[1].name", "same host/DNS form"),
    ([("Berlin", 52.5, 13.4), ("berlin", 52.5, 13.5)], "ground_stations[1].name", "same host/DNS form"),
    ([("s0p0n0", 1, 1)], "ground_stations[0].name", "named like a satellite"),
    ([("S1P2N3", 1, 1)], "ground_stations[0].name", "named like a satellite"),
    ([("Ber\nlin", 1, 1)], "ground_stations[0].name", "control character"),
    ([("Ber\x00lin", 1, 1)], "ground_stations[0].name", "control character"),
    ([("x" * 100000, 1, 1)], "ground_stations[0].name", "100000 characters long"),
])
def test_station_names_that_would_collide_or_break(tmp_path, capsys, stations, field, problem):
    raw = scenario(ground_stations=[{"name": n, "lat_deg": lat, "lon_deg": lon} for n, lat, lon in stations])
    line = assert_rejected(capsys, ["info", write(tmp_path, raw)], field)
    assert problem in line and len(line) < 400


@pytest.mark.parametrize("command", [["info"], ["positions"], ["visible", "--from", "Berlin"]])
@pytest.mark.parametrize("section, field", [
    ({"emulation": {"backend": "quantum"}}, "emulation.backend"),
    ({"topology": {"gsl": {"policy": "farthest"}}}, "topology.gsl.policy"),
    ({"topology": {"isl": {"bogus": 1}}}, "topology.isl.bogus"),
    ({"containers": {"satelite": {}}}, "containers.satelite"),
    ({"controlplane": {"ground_stations": ["Nowhere"]}}, "controlplane.ground_stations[0]"),
    ({"kubespace": {"assignment": {"threshold": 2}}}, "kubespace.assignment.threshold"),
])
def test_every_command_validates_every_section(tmp_path, capsys, command, section, field):
    path = write(tmp_path, scenario(**section))
    assert_rejected(capsys, [command[0], path, *command[1:]], field)


def test_a_bad_scenario_gives_no_traceback_from_the_real_command(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    proc = subprocess.run([sys.executable, "-m", "leonet.cli.main", "positions", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
