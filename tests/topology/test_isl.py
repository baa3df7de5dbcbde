"""ISL rules on tiny hand-built constellations with known answers."""
import numpy as np
import pytest

from leonet.orbits.frames import ecef_to_geodetic
from leonet.topology.isl import EARTH_RADIUS_FOR_LOS_KM, grazing_altitude_km

from .helpers import engine, segment_min_radius_sampled, walker

NO_LOS = {"isl": {"min_grazing_altitude_km": -6000}}


def pairs(snap, kind="isl"):
    names = snap.nodes.names
    return {(names[l.a], names[l.b]) if names[l.a] < names[l.b] else (names[l.b], names[l.a])
            for l in snap.links if l.kind == kind}


def grid_pairs(planes, sats, wraps=True):
    """+Grid with the same slot across planes, enumerated by hand."""
    out = set()
    def add(a, b):
        out.add(tuple(sorted((a, b))))
    for p in range(planes):
        for n in range(sats):
            if sats >= 2 and (sats > 2 or n == 0):
                add(f"s0p{p}n{n}", f"s0p{p}n{(n + 1) % sats}")
            if p + 1 < planes:
                add(f"s0p{p}n{n}", f"s0p{p + 1}n{n}")
            elif wraps and planes >= 3:
                add(f"s0p{p}n{n}", f"s0p0n{n}")
    return out


def test_3x3_grid_links_are_the_grid_pairs_in_line_of_sight():
    e = engine(walker(3, 3, altitude_km=15000))  # sometimes one link dips below 80 km
    seen_full = False
    for t in np.arange(0.0, 6 * 3600.0, 900.0):
        snap = e.snapshot(t)
        index = {n: i for i, n in enumerate(snap.nodes.names)}
        p = snap.positions_km
        clear = {pr for pr in grid_pairs(3, 3)
                 if segment_min_radius_sampled(p[index[pr[0]]], p[index[pr[1]]]) - EARTH_RADIUS_FOR_LOS_KM >= 80}
        assert pairs(snap) == clear
        if len(clear) == 18:
            seen_full = True
            deg = np.bincount(np.concatenate((snap.links.a, snap.links.b)), minlength=9)
            assert (deg == 4).all()
    assert seen_full


def test_grazing_altitude_matches_brute_force_sampling():
    rng = np.random.default_rng(1)
    pa = rng.normal(size=(50, 3))
    pb = rng.normal(size=(50, 3))
    pa *= (6900 / np.linalg.norm(pa, axis=1))[:, None]
    pb *= (7300 / np.linalg.norm(pb, axis=1))[:, None]
    got = grazing_altitude_km(pa, pb)
    want = [segment_min_radius_sampled(a, b) - EARTH_RADIUS_FOR_LOS_KM for a, b in zip(pa, pb)]
    np.testing.assert_allclose(got, want, atol=0.05)


def test_line_of_sight_cutoff_on_an_equatorial_ring():
    # 8 satellites at 550 km: neighbours are 45 deg apart and their chord grazes at about
    # r cos(22.5 deg) - 6378 km = 16 km: below the default 80 km, above 10 km.
    e = engine(walker(1, 8, inclination_deg=0.0))
    snap = e.snapshot(0.0)
    assert len(snap.links) == 0
    p = snap.positions_km
    r = np.linalg.norm(p[:8], axis=1).mean()
    grazing = r * np.cos(np.radians(22.5)) - EARTH_RADIUS_FOR_LOS_KM
    assert 10 < grazing < 80
    e10 = engine(walker(1, 8, inclination_deg=0.0), topology={"isl": {"min_grazing_altitude_km": 10}})
    snap10 = e10.snapshot(0.0)
    assert pairs(snap10) == grid_pairs(1, 8)
    for l in snap10.links:  # chord of 45 degrees
        assert l.distance_km == pytest.approx(2 * r * np.sin(np.radians(22.5)), abs=2.0)


def test_walker_star_has_no_seam_links_and_delta_has():
    star = engine(walker(6, 11, 780, 86.4, kind="star"), topology=NO_LOS).snapshot(600.0)
    delta = engine(walker(6, 11, 780, 86.4, kind="delta"), topology=NO_LOS).snapshot(600.0)
    assert pairs(star) == grid_pairs(6, 11, wraps=False)
    assert pairs(delta) == grid_pairs(6, 11, wraps=True)
    seam = {p for p in pairs(delta) if {p[0][:4], p[1][:4]} == {"s0p0", "s0p5"}}
    assert len(seam) == 11 and not seam & pairs(star)


@pytest.mark.parametrize("t", [0.0, 1234.0, 3000.0])
def test_polar_cutoff_drops_only_inter_plane_links_at_high_latitude(t):
    cutoff = 45.0
    base = engine(walker(12, 10, 550, 53)).snapshot(t)
    cut = engine(walker(12, 10, 550, 53), topology={"isl": {"max_latitude_deg": cutoff}}).snapshot(t)
    lat, _, _ = ecef_to_geodetic(base.positions_km)
    names = base.nodes.names
    index = {n: i for i, n in enumerate(names)}
    kept = pairs(cut)
    dropped = 0
    for a, b in pairs(base):
        inter = a.split("n")[0] != b.split("n")[0]
        high = max(abs(lat[index[a]]), abs(lat[index[b]]))
        if not inter or high < cutoff - 0.5:
            assert (a, b) in kept
        elif high > cutoff + 0.5:
            assert (a, b) not in kept
            dropped += 1
    assert dropped > 0
    assert kept <= pairs(base)


def test_max_range():
    base = engine(walker(12, 10)).snapshot(0.0)
    limit = float(np.median(base.links.distance_km))
    cut = engine(walker(12, 10), topology={"isl": {"max_range_km": limit}}).snapshot(0.0)
    names = base.nodes.names
    want = {(names[l.a], names[l.b]) for l in base.links if l.distance_km <= limit}
    assert {(names[l.a], names[l.b]) for l in cut.links} == want
    assert 0 < len(cut.links) < len(base.links)


def test_nearest_inter_plane_follows_the_phasing_across_the_wrap():
    # 24 planes x 10, phasing 1: a satellite flies alongside the same slot of the next
    # plane, except across the wrap (plane 23 -> plane 0), where the Walker phasing
    # shifts the partner by one slot.
    e = engine(walker(24, 10, phasing=1), topology={"isl": {"inter_plane": "nearest", **NO_LOS["isl"]}})
    got = pairs(e.snapshot(0.0))
    want = set()
    for p in range(24):
        for n in range(10):
            want.add(tuple(sorted((f"s0p{p}n{n}", f"s0p{p}n{(n + 1) % 10}"))))
            q, m = (p + 1, n) if p < 23 else (0, (n + 1) % 10)
            want.add(tuple(sorted((f"s0p{p}n{n}", f"s0p{q}n{m}"))))
    assert got == want


def test_inter_plane_none_and_intra_plane_off():
    only_intra = engine(walker(4, 6, 3000), topology={"isl": {"inter_plane": "none"}}).snapshot(0.0)
    assert all(a.split("n")[0] == b.split("n")[0] for a, b in pairs(only_intra))
    assert len(only_intra.links) == 24
    nothing = engine(walker(4, 6, 3000), topology={"isl": {"inter_plane": "none", "intra_plane": False}})
    assert len(nothing.snapshot(0.0).links) == 0
