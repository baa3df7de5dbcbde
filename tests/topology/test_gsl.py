"""GSL visibility and selection policies, checked against look angles computed by the
orbital layer's own (independent) topocentric transform."""
import numpy as np
import pytest

from leonet.orbits.frames import look_angles

from .helpers import engine, gs, walker

STATIONS = [gs("Berlin", 52.52, 13.405), gs("Quito", -0.18, -78.47), gs("Perth", -31.95, 115.86),
            gs("Berlin2", 52.6, 13.5), gs("Polar", 85.0, 0.0)]


def _engine(**gsl):
    return engine(walker(24, 16, 550, 53), ground_stations=STATIONS,
                  defaults={"min_elevation_deg": 20}, topology={"gsl": gsl} if gsl else None)


def _expected_visible(snap, c):
    gss = c.ground_stations
    elev, _, rng = look_angles(np.array([g.ecef_km for g in gss]), [g.lat_deg for g in gss],
                               [g.lon_deg for g in gss], snap.positions_km[:c.num_satellites])
    return elev, rng


def _gsl_sets(snap):
    n = snap.nodes.num_satellites
    out = {}
    g = snap.links.of_kind(1)
    for a, b in zip(g.a, g.b):
        out.setdefault(int(b) - n, set()).add(int(a))
    return out


@pytest.mark.parametrize("t", [0.0, 600.0, 5000.0])
def test_all_visible_above_the_mask(t):
    e = _engine()
    snap = e.snapshot(t)
    elev, rng = _expected_visible(snap, e.constellation)
    got = _gsl_sets(snap)
    for g in range(len(STATIONS)):
        assert got.get(g, set()) == set(np.flatnonzero(elev[g] >= 20)), STATIONS[g]["name"]
    assert 4 not in got  # 85 deg north never sees a 53 deg shell above 20 deg
    for link in snap.links.of_kind(1):
        g = link.b - snap.nodes.num_satellites
        assert link.distance_km == pytest.approx(rng[g, link.a], rel=1e-9)
    # primary = highest elevation
    for g, sats in got.items():
        assert snap.primary_satellite[g] == max(sats, key=lambda s: elev[g, s])
    assert snap.primary_satellite[4] == -1


def test_nearest_highest_and_n_per_station():
    t = 1234.0
    for policy, key in (("nearest", lambda e, r: -r), ("highest_elevation", lambda e, r: e)):
        for cap in (1, 3):
            eng = _engine(policy=policy, max_per_ground_station=cap)
            snap = eng.snapshot(t)
            elev, rng = _expected_visible(snap, eng.constellation)
            got = _gsl_sets(snap)
            for g in range(4):
                vis = np.flatnonzero(elev[g] >= 20)
                best = sorted(vis, key=lambda s: -key(elev[g, s], rng[g, s]))[:cap]
                assert got[g] == set(best), (policy, cap, g)


def test_per_station_minimum_elevation_override():
    stations = [gs("Low", 0.0, 0.0, min_elevation_deg=10), gs("High", 0.0, 0.0, min_elevation_deg=60)]
    e = engine(walker(24, 16), ground_stations=stations, defaults={"min_elevation_deg": 25})
    snap = e.snapshot(300.0)
    elev, _ = _expected_visible(snap, e.constellation)
    got = _gsl_sets(snap)
    assert got.get(0, set()) == set(np.flatnonzero(elev[0] >= 10))
    assert got.get(1, set()) == set(np.flatnonzero(elev[1] >= 60))


def test_cap_per_satellite_gives_a_stable_assignment():
    # Many stations close together compete for a few satellites.
    rng = np.random.default_rng(3)
    stations = [gs(f"G{i}", float(40 + rng.uniform(-3, 3)), float(rng.uniform(-3, 3))) for i in range(30)]
    for policy in ("all", "nearest"):
        e = engine(walker(24, 16), ground_stations=stations, defaults={"min_elevation_deg": 25},
                   topology={"gsl": {"policy": policy, "max_per_ground_station": 2, "max_per_satellite": 3}})
        snap = e.snapshot(0.0)
        elev, rng_km = _expected_visible(snap, e.constellation)
        score = (lambda g, s: -rng_km[g, s]) if policy == "nearest" else (lambda g, s: elev[g, s])
        got = _gsl_sets(snap)
        per_sat = {}
        for g, sats in got.items():
            assert len(sats) <= 2
            for s in sats:
                per_sat.setdefault(s, set()).add(g)
        assert all(len(v) <= 3 for v in per_sat.values())
        # No blocking pair: a visible (g, s) not linked where both would rather have it.
        for g in range(30):
            mine = got.get(g, set())
            for s in np.flatnonzero(elev[g] >= 25):
                if s in mine:
                    continue
                g_wants = len(mine) < 2 or any(score(g, s) > score(g, m) for m in mine)
                theirs = per_sat.get(s, set())
                s_wants = len(theirs) < 3 or any(score(g, s) > score(h, s) for h in theirs)
                assert not (g_wants and s_wants), (policy, g, s)
        assert sum(len(v) for v in got.values()) > 0


def test_prefilter_misses_nothing_with_mixed_altitudes_and_masks():
    # The k-d tree prefilter must be conservative for the highest satellite, the lowest
    # station (Dead Sea, -430 m; polar radius) and the lowest mask (0 deg).
    stations = [gs("DeadSea", 31.5, 35.5, alt_m=-430, min_elevation_deg=0), gs("Pole", -89.9, 0.0),
                gs("Everest", 27.99, 86.93, alt_m=8848, min_elevation_deg=40), gs("Eq", 0.0, -120.0)]
    e = engine(walker(8, 8, 550, 53), walker(6, 6, 8000, 70), walker(4, 5, 1200, 87, kind="star"),
               ground_stations=stations, defaults={"min_elevation_deg": 5})
    masks = [0, 5, 40, 5]
    for t in (0.0, 3000.0, 20000.0):
        snap = e.snapshot(t)
        elev, _ = _expected_visible(snap, e.constellation)
        got = _gsl_sets(snap)
        for g, mask in enumerate(masks):
            assert got.get(g, set()) == set(np.flatnonzero(elev[g] >= mask)), (t, stations[g]["name"])
