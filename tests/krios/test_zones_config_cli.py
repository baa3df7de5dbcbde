"""Zone validation (field-precise errors), the paper's labels, polygons, the
``krios:`` section and the CLI (exit 2 on bad input)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from leonet.errors import ConfigError
from leonet.krios.config import parse_krios_section
from leonet.krios.manager import ZoneManager
from leonet.krios.zones import zone_from_labels, zone_from_mapping
from leonet.orbits import parse_scenario

from .helpers import small_constellation

LEONET = [sys.executable, "-m", "leonet.cli.main"]
SCENARIO = {"name": "t", "start": "2026-01-31T12:00:00Z",
            "shells": [{"name": "w", "planes": 2, "sats_per_plane": 2, "altitude_km": 550, "inclination_deg": 53}],
            "ground_stations": [{"name": "Control", "lat_deg": 37.8, "lon_deg": -122.4}]}


def error(fn, *args, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        fn(*args, **kw)
    return exc.value


@pytest.mark.parametrize("raw, field, words", [
    ({"lat_deg": 95, "lon_deg": 0}, "krios.zones.z.lat_deg", "in [-90, 90]"),
    ({"lat_deg": 10, "lon_deg": -190}, "krios.zones.z.lon_deg", "in [-180, 180]"),
    ({"lat_deg": 10, "lon_deg": 10, "radius_km": -5}, "krios.zones.z.radius_km", "negative"),
    ({"lat_deg": 10, "lon_deg": 10, "radius_km": 150}, "krios.zones.z.radius_km", "100 km"),
    ({"lat_deg": 10, "lon_deg": 10, "radius_km": "far"}, "krios.zones.z.radius_km", "number"),
    ({"lat_deg": 10}, "krios.zones.z.lon_deg", "missing"),
    ({"lat_deg": 10, "lon_deg": 10, "radius": 5}, "krios.zones.z.radius", "did you mean 'radius_km'"),
    ({"lat_deg": 10, "lon_deg": 10, "min_elevation_deg": 95}, "krios.zones.z.min_elevation_deg", "in [0, 89]"),
    ({"polygon": [[0, 0], [0, 0.5]]}, "krios.zones.z.polygon", "at least 3"),
    ({"polygon": [[0, 0], [0.5, 0.5], [0, 0.5], [0.5, 0]]}, "krios.zones.z.polygon", "crosses itself"),
    ({"polygon": [[0, 0], [0.2, 0.2], [0.4, 0.4]]}, "krios.zones.z.polygon", "no area"),
    ({"polygon": [[0, 0], [0, 3], [3, 0]]}, "krios.zones.z.polygon", "100 km"),
    ({"polygon": [[0, 0], [0, 0.5], [95, 0]]}, "krios.zones.z.polygon[2][0]", "in [-90, 90]"),
    ({"polygon": [[0, 0], [0, 0.5], [0.5, 0]], "radius_km": 5}, "krios.zones.z.radius_km", "polygon"),
])
def test_bad_zones_name_the_field(raw, field, words):
    e = error(parse_krios_section, {"zones": {"z": raw}})
    assert e.field == field
    assert words in str(e)


@pytest.mark.parametrize("raw, field", [
    ({"policy": "closests"}, "krios.policy"),
    ({"handover": "eager"}, "krios.handover"),
    ({"lead_s": -1}, "krios.lead_s"),
    ({"init_s": "slow"}, "krios.init_s"),
    ({"polcy": "krios"}, "krios.polcy"),
    ({"zones": {"San Francisco": {"lat_deg": 1, "lon_deg": 1}}}, "krios.zones.San Francisco"),
    ({"zones": [1, 2]}, "krios.zones"),
    ({"control_ground_station": "Contrl"}, "krios.control_ground_station"),
    ({"max_zone_radius_km": 0}, "krios.max_zone_radius_km"),
])
def test_bad_section_keys(raw, field):
    e = error(parse_krios_section, raw, parse_scenario(SCENARIO))
    assert e.field == field
    if raw == {"polcy": "krios"}:
        assert "did you mean 'policy'" in str(e)
    if "control_ground_station" in raw:
        assert "did you mean 'Control'" in str(e)
    assert error(parse_scenario, {**SCENARIO, "krios": raw}).field == field   # the same through the schema


def test_section_defaults_and_a_raised_radius_cap():
    cfg = parse_krios_section(None)
    assert (cfg.policy, cfg.handover, cfg.lead_s, cfg.init_s, cfg.scheduler_name) == ("krios", "proactive", None, 5.0,
                                                                                        "krios")
    cfg = parse_krios_section({"max_zone_radius_km": 200, "min_elevation_deg": 30, "lead_s": 7,
                               "zones": {"big": {"lat_deg": 10, "lon_deg": 10, "radius_km": 150}}})
    assert cfg.zones["big"].radius_km == 150 and cfg.zones["big"].min_elevation_deg == 30 and cfg.lead_s == 7


def test_the_papers_labels():
    # Fig. 5: leozone '37_-122', radius '100'; the repository's pod: leozone only (radius defaults to 100)
    z = zone_from_labels({"app": "nginx", "leozone": "37_-122", "radius": "100"})
    assert (z.lat_deg, z.lon_deg, z.radius_km) == (37.0, -122.0, 100.0)
    z = zone_from_labels({"app": "nginx", "leozone": "37.7749_-122.4194"})
    assert (z.lat_deg, z.lon_deg, z.radius_km) == (37.7749, -122.4194, 100.0)
    assert zone_from_labels({"app": "nginx"}) is None
    assert error(zone_from_labels, {"leozone": "37.7749"}).field == "metadata.labels.leozone"
    assert error(zone_from_labels, {"leozone": "91_0"}).field == "metadata.labels.leozone (latitude)"
    assert error(zone_from_labels, {"leozone": "1_2", "radius": "-3"}).field == "metadata.labels.radius"


def test_polygon_membership_is_every_vertex_seeing_the_satellite():
    tri = [[29.0, -89.6], [29.3, -89.0], [28.7, -88.9]]
    zone = zone_from_mapping("gulf", {"polygon": tri}, "z")
    assert zone.kind == "polygon" and 30 < zone.radius_km < 60
    c = small_constellation([{"name": f"V{k}", "lat_deg": v[0], "lon_deg": v[1]} for k, v in enumerate(tri)])
    from leonet.topology import TopologyEngine
    engine = TopologyEngine(c)
    n = c.num_satellites
    seen = 0
    for t in np.arange(0.0, 6000.0, 113.0):
        snap = engine.snapshot(float(t))
        by_station = [{int(a) for a, b in zip(snap.links.a, snap.links.b) if b == n + g} for g in range(3)]
        inside = set(np.flatnonzero(zone.contains(snap.positions_km[:n])).tolist())
        assert inside == by_station[0] & by_station[1] & by_station[2]
        seen += len(inside)
    assert seen > 0
    # the scheduler's policy for polygons: remaining access time
    m = ZoneManager(c)
    t = next(t for t in np.arange(0.0, 6000.0, 60.0) if len(m.members(zone, t)) >= 2)
    members = m.members(zone, t)
    best = m.best(zone, t, members, "krios")
    assert m.exit_time(zone, best, t) == max(m.exit_time(zone, s, t) for s in members)


def run_cli(*args, timeout=120):
    return subprocess.run([*LEONET, "krios", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_zones_lists_members_with_their_remaining_time():
    r = run_cli("zones", "krios-starlink", "--zone", "sf", "--format", "json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)[0]
    assert row["zone"] == "sf" and row["region_radius_km"] == pytest.approx(913.2, abs=0.1)
    assert row["members"] == len(row["satellites"]) > 0
    assert all(0 < s["remaining_s"] < 300 for s in row["satellites"])


def test_cli_timeline_predicts_handovers(tmp_path):
    r = run_cli("timeline", "krios-starlink", "--zone", "sf", "--hours", "0.5", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["summary"]["handovers"] >= 5 and out["summary"]["availability"] == 1.0
    assert 150 < out["summary"]["median_interval_s"] < 280


@pytest.mark.parametrize("args, words", [
    (("timeline", "krios-starlink", "--zone", "sff", "--hours", "1"), "did you mean 'sf'"),
    (("timeline", "krios-starlink", "--zone", "sf", "--hours", "-1"), "--hours"),
    (("timeline", "krios-starlink", "--zone", "95_10", "--hours", "1"), "latitude"),
    (("timeline", "krios-starlink", "--zone", "30_10", "--radius", "500", "--hours", "1"), "--radius"),
    (("zones", "krios-starlink", "--zone", "sf", "--radius", "5"), "--radius"),
    (("zones", "krios-starlink", "--at", "yesterday"), "--at"),
    (("timeline", "krios-starlink", "--zone", "sf"), "--hours"),
])
def test_cli_bad_input_exits_2_without_traceback(args, words):
    r = run_cli(*args)
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr


def test_cli_bad_section_exits_2(tmp_path):
    raw = yaml.safe_load(open(__import__("leonet.orbits.scenario", fromlist=["scenario_path"])
                              .scenario_path("krios-starlink")))
    raw["krios"]["zones"]["sf"]["radius_km"] = -10
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    r = run_cli("zones", str(path))
    assert r.returncode == 2 and "krios.zones.sf.radius_km" in r.stderr and "negative" in r.stderr


def test_near_is_a_superset_of_contains_and_a_small_part_of_the_shell(shell1):
    """The cone pre-test never drops a region member (circles of every size, a polygon,
    high minimum elevations), and keeps only a few percent of the shell."""
    from leonet.krios.zones import Zone
    zones = [Zone("sf", 37.7749, -122.4194, r, e) for r in (0.0, 50.0, 100.0) for e in (25.0, 45.0)]
    zones += [Zone("south", -33.9, 18.4, 75.0, 25.0), Zone("north", 52.0, 10.0, 100.0, 25.0)]
    zones.append(zone_from_mapping("gulf", {"polygon": [[28.0, -90.0], [28.8, -89.6], [28.4, -88.9], [28.1, -89.4]]},
                                   "krios.zones.gulf"))
    m = ZoneManager(shell1)
    kept = []
    for t in np.arange(0.0, 6000.0, 97.0):
        pos = m.positions(float(t))
        for z in zones:
            inside, near = z.contains(pos), z.near(pos)
            assert not np.any(inside & ~near), (z.name, t)
            kept.append(near.mean())
    assert np.mean(kept) < 0.05
