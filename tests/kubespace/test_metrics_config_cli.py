"""Delay tensors from the topology layer, the ``kubespace:`` section, and the CLI."""
import json
import textwrap

import numpy as np
import pytest

from leonet.cli.main import main
from leonet.errors import ConfigError
from leonet.kubespace import cnpa, path_delay, straight_line_delay
from leonet.kubespace.config import parse_kubespace_section
from leonet.kubespace.metrics import MS_PER_KM
from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine

SCENARIO = textwrap.dedent("""
    name: ks-small
    start: 2026-01-31T00:00:00Z
    shells:
      - {name: s, walker: delta, planes: 8, sats_per_plane: 10, altitude_km: 550, inclination_deg: 53}
    ground_stations:
      - {name: quito, lat_deg: -0.2, lon_deg: -78.5}
      - {name: nairobi, lat_deg: -1.3, lon_deg: 36.8}
      - {name: singapore, lat_deg: 1.35, lon_deg: 103.8}
      - {name: madrid, lat_deg: 40.4, lon_deg: -3.7}
      - {name: sydney, lat_deg: -33.9, lon_deg: 151.2}
      - {name: honolulu, lat_deg: 21.3, lon_deg: -157.9}
    defaults: {min_elevation_deg: 10}
    kubespace:
      placement: {k: 2, clusters: 3, period_s: 1200, snapshot_interval_s: 300}
      assignment: {threshold: 0.9, window_s: 3600, control_nodes: [quito, singapore]}
""")


@pytest.fixture()
def scenario(tmp_path):
    path = tmp_path / "ks-small.yaml"
    path.write_text(SCENARIO)
    return str(path)


def test_straight_line_delay_is_the_distance_over_c(scenario):
    c = load_constellation(scenario)
    got = straight_line_delay(c, [0.0, 600.0])
    pos = c.positions_ecef([0.0, 600.0])                      # (N, T, 3)
    want = np.linalg.norm(pos[None, :, :, :] - c.ground_station_ecef[:, None, None, :], axis=-1) * MS_PER_KM
    assert np.allclose(got, np.transpose(want, (2, 0, 1)), rtol=1e-6)


def test_path_delay_matches_the_topology_path_and_is_never_shorter_than_a_straight_line(scenario):
    c = load_constellation(scenario)
    path = path_delay(c, [0.0, 900.0])
    straight = straight_line_delay(c, [0.0, 900.0])
    finite = np.isfinite(path)
    assert finite.mean() > 0.5
    assert (path[finite] >= straight[finite] * (1 - 1e-6)).all()
    snap = TopologyEngine(c).snapshot(900.0)
    p = snap.path("nairobi", c.satellites[17].name)
    assert path[1, 1, 17] == pytest.approx(p.delay_ms, rel=1e-6) if p.reachable else np.isinf(path[1, 1, 17])


def test_cnpa_on_a_real_small_constellation_is_deterministic(scenario):
    c = load_constellation(scenario)
    m = path_delay(c, np.arange(0, 3600, 300.0))
    a, b = cnpa(m, 2, clusters=3, seed=1), cnpa(m, 2, clusters=3, seed=1)
    assert a.selection == b.selection and a.score == b.score
    assert a.score <= a.greedy_score


def test_kubespace_section_validation():
    cfg = parse_kubespace_section({"placement": {"k": 3}, "assignment": {"threshold": 0.8}})
    assert cfg.placement.k == 3 and cfg.assignment.threshold == 0.8
    assert parse_kubespace_section(None).placement.clusters == 20
    for bad in ({"placement": {"k": 0}}, {"placement": {"kk": 3}}, {"assignment": {"threshold": 1.2}},
                {"assignment": {"metric": "euclid"}}, {"assignment": {"window_s": 100}},
                {"assignment": {"decision_interval_s": 7}}, {"placement": {"candidates": ["a", "a"]}},
                {"placement": {"plateau_moves": "yes"}}, {"other": 1}, [1, 2]):
        with pytest.raises(ConfigError):
            parse_kubespace_section(bad)


def test_cli_place_prints_the_stations_and_the_metric(scenario, capsys):
    assert main(["kubespace", "place", scenario, "--k", "2", "--clusters", "3"]) == 0
    out = capsys.readouterr().out
    assert "CNPA k=2, C=3" in out and "ms one way" in out
    assert main(["kubespace", "place", scenario, "--k", "2", "--metric", "straight", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["control_nodes"]) == 2 and doc["worst_one_way_ms"] > 0 and doc["metric"] == "straight"


def test_cli_assign_prints_handover_events(scenario, capsys):
    assert main(["kubespace", "assign", scenario, "--satellite", "s0p0n0", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)      # control nodes and window from the scenario
    assert doc["initial"] in ("quito", "singapore") and doc["window_s"] == 3600
    assert main(["kubespace", "assign", scenario, "--satellite", "s0p0n0", "--control-nodes",
                 "quito,nairobi,singapore,sydney", "--threshold", "1", "--window", "7200"]) == 0
    out = capsys.readouterr().out
    assert "initial control node" in out and "handover(s)" in out
    assert main(["kubespace", "assign", scenario, "--satellite", "s0p0n0", "--control-nodes",
                 "quito,nairobi", "--metric", "path", "--window", "1800", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("time,offset_s,from,to")


@pytest.mark.parametrize("argv", [
    ["kubespace", "assign", "{s}", "--satellite", "s9p0n0", "--control-nodes", "quito"],
    ["kubespace", "assign", "{s}", "--satellite", "s0p0n0", "--control-nodes", "quitoo"],
    ["kubespace", "assign", "{s}", "--satellite", "s0p0n0", "--control-nodes", "quito,quito"],
    ["kubespace", "assign", "{s}", "--satellite", "s0p0n0", "--threshold", "0"],
    ["kubespace", "assign", "{s}", "--satellite", "s0p0n0", "--decision", "7"],
    ["kubespace", "place", "{s}", "--k", "7"],
    ["kubespace", "place", "{s}", "--k", "2", "--candidates", "quito,atlantis"],
    ["kubespace", "place", "{s}", "--k", "2", "--step", "0"],
])
def test_cli_bad_input_is_a_config_error_exit_2(scenario, argv, capsys):
    assert main([a.format(s=scenario) for a in argv]) == 2
    assert "leonet: error:" in capsys.readouterr().err
