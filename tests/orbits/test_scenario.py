"""Scenario validation: every bad input names the field, the value and a fix."""
import pytest
import yaml

from leonet.errors import ConfigError
from leonet.orbits import build_constellation, load_scenario, parse_scenario, preset_names

from .helpers import START, scenario, walker


def err(raw) -> str:
    with pytest.raises(ConfigError) as e:
        parse_scenario(raw)
    return str(e.value)


def base(**kw):
    raw = dict(name="t", start=START, shells=[walker(2, 2)], ground_stations=[])
    raw.update(kw)
    return raw


def test_all_presets_load_and_build():
    expected = {"starlink-shell1": 1584, "kuiper": 1296, "oneweb": 636, "iridium": 66,
                "starlink-phase1": 4409, "kubespace-candidates": 1584}
    for name, count in expected.items():
        assert name in preset_names()
        assert build_constellation(load_scenario(name)).num_satellites == count
    assert len(load_scenario("kubespace-candidates").ground_stations) == 316
    assert len(load_scenario("starlink-shell1").ground_stations) == 116


@pytest.mark.parametrize("field,value,fragment", [
    ("altitude_km", 0, "shells[0].altitude_km"),
    ("altitude_km", -5, "shells[0].altitude_km"),
    ("inclination_deg", 181, "shells[0].inclination_deg"),
    ("inclination_deg", -1, "shells[0].inclination_deg"),
    ("planes", 0, "shells[0].planes"),
    ("sats_per_plane", 2.5, "shells[0].sats_per_plane"),
    ("phasing", 2, "shells[0].phasing"),
    ("eccentricity", 1.0, "shells[0].eccentricity"),
    ("walker", "rosette", "shells[0].walker"),
])
def test_bad_shell_values(field, value, fragment):
    shell = walker(2, 2)
    shell[field] = value
    message = err(base(shells=[shell]))
    assert fragment in message and repr(value) in message and "fix:" in message


def test_unknown_keys_are_named_with_a_suggestion():
    shell = walker(2, 2)
    shell["inclinaton_deg"] = 53
    assert "did you mean 'inclination_deg'" in err(base(shells=[shell]))
    assert "scenario.shels" in err(dict(base(), shels=[]))


@pytest.mark.parametrize("value", [-1, 90.5, "high"])
def test_min_elevation_outside_0_90(value):
    message = err(base(defaults={"min_elevation_deg": value}))
    assert "defaults.min_elevation_deg" in message
    gs = {"name": "a", "lat_deg": 1, "lon_deg": 2, "min_elevation_deg": value}
    assert "ground_stations[0].min_elevation_deg" in err(base(ground_stations=[gs]))


def test_duplicate_ground_station_names():
    gss = [{"name": "a", "lat_deg": 1, "lon_deg": 2}, {"name": "a", "lat_deg": 3, "lon_deg": 4}]
    assert "duplicate ground-station name" in err(base(ground_stations=gss))


def test_missing_start_and_bad_start():
    raw = base()
    del raw["start"]
    assert "start" in err(raw) and "2026-01-31T12:00:00Z" in err(raw)
    assert "ISO 8601" in err(base(start="yesterday"))


def test_bad_ground_station_coordinates_and_files():
    assert "ground_stations[0].lat_deg" in err(base(ground_stations=[{"name": "a", "lat_deg": 91, "lon_deg": 0}]))
    assert "missing" in err(base(ground_stations=[{"name": "a", "lat_deg": 1}]))
    assert "no such built-in" in err(base(ground_stations=[{"csv": "builtin:nope.csv"}]))
    assert "not in starlink_gateways.csv" in err(
        base(ground_stations=[{"csv": "builtin:starlink_gateways.csv", "names": ["Nome_AKK"]}]))


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="did you mean 'starlink-shell1'"):
        load_scenario("starlink-shel1")


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nshells: [\n")
    with pytest.raises(ConfigError, match="bad.yaml:"):
        load_scenario(str(path))


def test_layered_defaults_override_per_shell_and_ground_station(tmp_path):
    gs_csv = tmp_path / "gs.csv"
    gs_csv.write_text("name,latitude_deg,longitude_deg,altitude_m\nA,1,2,0\nB,3,4,100\nC,5,6,0\n")
    raw = {
        "name": "layers", "start": START,
        "defaults": {"min_elevation_deg": 30},
        "shells": [walker(2, 2), dict(walker(2, 2), name="s2", min_elevation_deg=10)],
        "ground_stations": [{"csv": "gs.csv", "limit": 2, "prefix": "x-", "min_elevation_deg": 20},
                            {"name": "D", "lat_deg": 0, "lon_deg": 0}],
    }
    (tmp_path / "layers.yaml").write_text(yaml.safe_dump(raw))
    sc = load_scenario(str(tmp_path / "layers.yaml"))
    assert [g.name for g in sc.ground_stations] == ["x-A", "x-B", "D"]
    assert sc.ground_stations[1].alt_m == 100
    s1, s2 = sc.shells
    a, d = sc.ground_stations[0], sc.ground_stations[2]
    assert sc.shell_param(s1, "min_elevation_deg") == 30
    assert sc.shell_param(s2, "min_elevation_deg") == 10
    assert sc.pair_param(a, s2, "min_elevation_deg") == 20   # the station's own setting wins
    assert sc.pair_param(d, s2, "min_elevation_deg") == 10   # then the shell's
    assert sc.pair_param(d, s1, "min_elevation_deg") == 30   # then the global default


def test_tle_shell_filters(tmp_path):
    raw = base(shells=[{"name": "real", "tle_file": "builtin:starlink-2026-01-31.tle",
                        "inclination_range_deg": [97, 98]}])
    c = build_constellation(parse_scenario(raw))
    assert all(abs(s.inclination_deg - 97.6) < 0.2 for s in c.shells)
    with pytest.raises(ConfigError, match="no satellites left"):
        build_constellation(parse_scenario(base(shells=[{"name": "real", "tle_file": "builtin:starlink-2026-01-31.tle",
                                                         "inclination_range_deg": [10, 11]}])))
