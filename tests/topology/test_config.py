"""The topology: section is validated before anything runs, with actionable errors."""
import pytest

from leonet.errors import ConfigError
from leonet.topology import BoundingBox, TopologyConfig, parse_topology_section

from .helpers import engine, gs, walker


def test_defaults():
    cfg = parse_topology_section(None)
    assert cfg == TopologyConfig()
    assert cfg.isl.inter_plane == "same_slot" and cfg.isl.min_grazing_altitude_km == 80.0
    assert cfg.gsl.policy == "all" and cfg.gsl.per_ground_station is None
    assert cfg.speed_of_light_factor == 1.0 and cfg.delay_threshold_ms == 0.5
    assert not cfg.ground_station_relay and cfg.bounding_box is None


def test_full_section():
    cfg = parse_topology_section({
        "isl": {"inter_plane": "nearest", "min_grazing_altitude_km": 100, "max_latitude_deg": 66.5,
                "max_range_km": 5000, "inter_shell": "nearest"},
        "gsl": {"policy": "nearest", "max_per_satellite": 2},
        "speed_of_light_factor": 0.587, "delay_threshold_ms": 0, "ground_station_relay": True,
        "bounding_box": {"lat_min_deg": 30, "lat_max_deg": 60, "lon_min_deg": 170, "lon_max_deg": -170}})
    assert cfg.isl.max_latitude_deg == 66.5 and cfg.isl.inter_shell == "nearest"
    assert cfg.gsl.per_ground_station == 1  # nearest means one unless told otherwise
    assert cfg.bounding_box.crosses_antimeridian


@pytest.mark.parametrize("raw, field, fix_part", [
    ({"isl": {"inter_plane": "nearst"}}, "topology.isl.inter_plane", "nearest"),
    ({"gsl": {"policy": "closest"}}, "topology.gsl.policy", "use one of"),
    ({"gsl": {"max_per_ground_station": 0}}, "topology.gsl.max_per_ground_station", ">= 1"),
    ({"gsl": {"max_per_satellite": 1.5}}, "topology.gsl.max_per_satellite", ">= 1"),
    ({"speed_of_light_factor": 0}, "topology.speed_of_light_factor", "(0, 1]"),
    ({"speed_of_light_factor": 1.2}, "topology.speed_of_light_factor", "(0, 1]"),
    ({"delay_threshold_ms": -1}, "topology.delay_threshold_ms", "[0, 1000]"),
    ({"delay_treshold_ms": 1}, "topology.delay_treshold_ms", "delay_threshold_ms"),
    ({"isl": {"max_latitude_deg": "high"}}, "topology.isl.max_latitude_deg", "number"),
    ({"isl": {"max_range_km": 0}}, "topology.isl.max_range_km", "(0"),
    ({"ground_station_relay": "yes"}, "topology.ground_station_relay", "true or false"),
    ({"gsl_bandwidth_mbps": 100}, "topology.gsl_bandwidth_mbps", "defaults:"),
    ({"isl": []}, "topology.isl", "docs/topology.md"),
    ({"bounding_box": {"lat_min_deg": 60, "lat_max_deg": 30, "lon_min_deg": 0, "lon_max_deg": 1}},
     "topology.bounding_box.lat_min_deg", "swap"),
    ({"bounding_box": {"lat_min_deg": 0, "lat_max_deg": 30}}, "topology.bounding_box.lon_min_deg", "give all"),
])
def test_bad_values_name_field_and_fix(raw, field, fix_part):
    with pytest.raises(ConfigError) as err:
        parse_topology_section(raw)
    assert err.value.field == field
    assert fix_part in err.value.fix


def test_scenario_section_is_validated_when_the_engine_is_built():
    with pytest.raises(ConfigError) as err:
        engine(walker(2, 2), topology={"gsl": {"policy": "best"}})
    assert err.value.field == "topology.gsl.policy"


def test_isl_parameter_on_a_ground_station_is_rejected():
    with pytest.raises(ConfigError) as err:
        engine(walker(2, 2), ground_stations=[gs("A", 0, 0, isl_bandwidth_mbps=5)])
    assert "isl_bandwidth_mbps" in err.value.field and "shell" in err.value.fix


def test_per_node_link_parameters_are_layered():
    e = engine(walker(4, 6, name="low", isl_bandwidth_mbps=500.0),
               walker(4, 6, altitude_km=1200, name="high", gsl_loss_percent=2.0),
               ground_stations=[gs("A", 0, 0, gsl_bandwidth_mbps=50.0, min_elevation_deg=0), gs("B", 10, 40,
                                                                                            min_elevation_deg=0)],
               defaults={"gsl_bandwidth_mbps": 200.0, "isl_bandwidth_mbps": 1000.0})
    snap = e.snapshot(0.0)
    n = snap.nodes.num_satellites
    shell_of = e.constellation.shell_of
    for link in snap.links:
        if link.kind == "isl":
            assert link.bandwidth_mbps == (500.0 if shell_of[link.a] == 0 else 1000.0)
        else:
            gs_name = snap.nodes.names[link.b]
            assert link.bandwidth_mbps == (50.0 if gs_name == "A" else 200.0)
            assert link.loss_percent == (2.0 if shell_of[link.a] == 1 else 0.0)
    assert any(l.kind == "gsl" for l in snap.links) and n == 48


@pytest.mark.parametrize("box, inside, outside", [
    ({"lat_min_deg": 30, "lat_max_deg": 60, "lon_min_deg": 170, "lon_max_deg": -170},
     [(45, 175), (45, -175), (30, 180), (60, -180)], [(45, 0), (45, 160), (45, -160), (61, 175)]),
    ({"lat_min_deg": -10, "lat_max_deg": 10, "lon_min_deg": -20, "lon_max_deg": 20},
     [(0, 0), (10, 20), (-10, -20)], [(0, 25), (0, 180), (11, 0)]),
    ({"lat_min_deg": -90, "lat_max_deg": 90, "lon_min_deg": -180, "lon_max_deg": 180},
     [(0, 0), (0, 180), (0, -180), (89, 179.9)], []),
    ({"lat_min_deg": 0, "lat_max_deg": 5, "lon_min_deg": 350, "lon_max_deg": 10},
     [(1, -5), (1, 5), (1, 355)], [(1, 15), (1, -15)]),
])
def test_bounding_box(box, inside, outside):
    b = BoundingBox.parse(box)
    for lat, lon in inside:
        assert b.contains(lat, lon), (lat, lon)
    for lat, lon in outside:
        assert not b.contains(lat, lon), (lat, lon)
