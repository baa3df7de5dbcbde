"""CNAA (Algorithm 2): threshold semantics, equivalence with a per-second loop,
interpolation accuracy, and the satellite-side API."""
import datetime as dt

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

from leonet.errors import ConfigError
from leonet.kubespace import ControlNode, assign, cnaa, predict_handovers
from leonet.kubespace.interpolation import cubic, interpolate, linear
from leonet.orbits import load_constellation
from leonet.orbits.propagation import Propagator
from leonet.orbits.tle import format_tle


def per_second_reference(samples, sample_s, decision_s, threshold, method):
    """Algorithm 2 lines 10-15 written as the paper states them: a plain loop."""
    N, K, S = samples.shape
    f = interpolate(samples.astype(float), sample_s, method)
    times = np.arange(0, (S - 1) * sample_s + 1e-9, decision_s)
    values = f(times)
    events = []
    initial = values[:, :, 0].argmin(axis=1)
    for n in range(N):
        cur = initial[n]
        for i, t in enumerate(times):
            best = values[n, :, i].argmin()
            if best != cur and values[n, best, i] / values[n, cur, i] < threshold:
                events.append((n, float(t), int(cur), int(best)))
                cur = best
    return initial, events


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("threshold", [1.0, 0.95, 0.8])
@pytest.mark.parametrize("method", ["cubic", "linear"])
def test_fast_decisions_equal_the_per_second_loop(seed, threshold, method):
    rng = np.random.default_rng(seed)
    N, K, S = rng.integers(1, 6), rng.integers(2, 5), rng.integers(3, 12)
    samples = rng.random((N, K, S)) * 100 + 10
    got = assign(samples, 60.0, 5.0, threshold, method)
    initial, events = per_second_reference(samples, 60.0, 5.0, threshold, method)
    assert np.array_equal(got.initial, initial)
    assert list(zip(got.satellite.tolist(), got.offset_s.tolist(), got.source.tolist(),
                    got.target.tolist())) == events


def crossing(amplitude: float, S: int = 61):
    """Node 0 fixed at 100; node 1 oscillates around 100 with ``amplitude`` and,
    in the second half, drops to 50."""
    t = np.arange(S)
    d1 = 100 + amplitude * np.sin(t / 3.0)
    d1[S // 2:] = 50.0
    return np.stack([np.full(S, 100.0), d1])[None]       # (1, 2, S)


def test_no_handover_while_the_other_node_is_within_the_threshold():
    samples = crossing(amplitude=5.0)[:, :, :30]        # ratio stays above 0.95 / 100*0.95=95 < 95.x
    samples[0, 0] = 100.0
    samples[0, 1, 0] = 101.0                            # start at node 0
    result = assign(samples, 60.0, 1.0, threshold=0.9, interpolation="linear")
    assert result.total == 0
    nearest_only = assign(samples, 60.0, 1.0, threshold=1.0, interpolation="linear")
    assert nearest_only.total > 2                       # the baseline flaps with every wiggle


def test_one_handover_when_the_ratio_is_crossed():
    samples = np.array([[[100.0, 100.0, 100.0, 100.0], [120.0, 100.0, 85.0, 80.0]]])
    # Linear: node 1 falls from 100 to 85 during t in [60, 120]: ratio < 0.9 once d1 < 90,
    # i.e. 2/3 of the way: t = 60 + 40 = 100 s.
    result = assign(samples, 60.0, 1.0, threshold=0.9, interpolation="linear")
    assert result.events(0) == [(101.0, 0, 1)]          # first second with d1 < 90 strictly
    nearest_only = assign(samples, 60.0, 1.0, threshold=1.0, interpolation="linear")
    assert nearest_only.events(0) == [(61.0, 0, 1)]


def test_unreachable_nodes_are_left_and_never_chosen():
    samples = np.array([[[10.0, 10.0, np.inf, np.inf], [20.0, 20.0, 20.0, 20.0]]])
    result = assign(samples, 60.0, 1.0, threshold=0.9, interpolation="linear")
    assert result.initial[0] == 0
    assert [e[2] for e in result.events(0)] == [1]
    assert 60.0 < result.events(0)[0][0] <= 120.0


def test_assigned_at_follows_the_events():
    samples = np.array([[[100.0, 100.0, 100.0], [120.0, 80.0, 80.0]],
                        [[50.0, 50.0, 50.0], [60.0, 60.0, 60.0]]])
    result = assign(samples, 60.0, 1.0, threshold=1.0, interpolation="linear")
    (t, _, _), = result.events(0)
    got = result.assigned_at([0.0, t - 1, t, 120.0])
    assert got.tolist() == [[0, 0, 1, 1], [0, 0, 0, 0]]
    assert result.per_satellite().tolist() == [1, 0]


def test_bad_grids_and_thresholds_are_config_errors():
    s = np.ones((1, 2, 5))
    with pytest.raises(ConfigError):
        assign(s, 60.0, 7.0)                # 7 s does not divide 60 s
    with pytest.raises(ConfigError):
        assign(s, 60.0, 1.0, threshold=1.5)
    with pytest.raises(ConfigError):
        assign(s, 60.0, 1.0, threshold=0)
    with pytest.raises(ConfigError):
        assign(s, 60.0, 1.0, interpolation="quintic")


def test_uniform_cubic_spline_equals_scipy():
    rng = np.random.default_rng(0)
    for S in (2, 3, 4, 9, 40):
        y = rng.random((3, 2, S)) * 1000
        ref = CubicSpline(np.arange(S) * 60.0, y, axis=-1)
        t = np.linspace(0, (S - 1) * 60.0, 517)
        assert np.allclose(cubic(y, 60.0)(t), ref(t), rtol=0, atol=1e-9)
        assert np.allclose(linear(y, 60.0)(t), np.stack([[np.interp(t, np.arange(S) * 60.0, y[i, j])
                                                          for j in range(2)] for i in range(3)]))


def test_interpolant_bounds_enclose_the_curves():
    rng = np.random.default_rng(1)
    f = cubic(rng.random((4, 3, 12)) * 100, 60.0)
    lo, hi = f.bounds()
    t = np.linspace(0, 11 * 60.0, 20001)
    v = f(t)
    j = np.minimum((t // 60).astype(int), 10)
    for k in range(11):
        sel = v[..., j == k]
        assert (sel.min(-1) >= lo[k] - 1e-9).all() and (sel.max(-1) <= hi[k] + 1e-9).all()
        # and they are tight: reached on a fine grid
        assert np.allclose(sel.min(-1), lo[k], atol=0.05) and np.allclose(sel.max(-1), hi[k], atol=0.05)


def test_interpolation_error_against_direct_propagation():
    """Cubic interpolation of 60 s distance samples stays within 5 km of SGP4 at
    every second (worst near overhead passes); linear is an order of magnitude worse."""
    c = load_constellation("starlink-shell1")
    sats = [c.satrecs[i] for i in range(0, c.num_satellites, 97)]
    prop = Propagator(sats, c.start)
    nodes = np.array([ControlNode(f"n{i}", lat, lon).ecef_km
                      for i, (lat, lon) in enumerate([(0, 0), (40, -3), (-33, 151), (35, 139), (51, 0)])])
    window = 3 * 3600.0
    coarse = np.arange(0, window + 1, 60.0)
    fine = np.arange(0, window + 1, 1.0)

    def dist(times):
        p = prop.ecef(times)
        return np.linalg.norm(p[:, None, :, :] - nodes[None, :, None, :], axis=-1)

    exact = dist(fine)
    err_cubic = np.abs(cubic(dist(coarse), 60.0)(fine) - exact)
    err_linear = np.abs(linear(dist(coarse), 60.0)(fine) - exact)
    assert err_cubic.max() < 5.0                       # km
    assert np.percentile(err_cubic, 99) < 0.2
    assert err_linear.max() > 5 * err_cubic.max()


def test_two_antipodal_equator_nodes_give_about_two_handovers_per_synodic_orbit():
    """Table I's setting: satellites switch between (0, 0) and (0, 180) each time they
    cross the +-90 deg meridian plane, twice per revolution relative to the Earth."""
    c = load_constellation("starlink-shell1")
    sats = c.satrecs[::50]
    nodes = [ControlNode("eq0", 0, 0), ControlNode("eq180", 0, 180)]
    result = cnaa(sats, c.start, nodes, window_s=86400.0, threshold=1.0)
    period_s = c.shells[0].walker.period_s
    synodic_per_day = 86400.0 / period_s - 1.0
    per_sat = result.per_satellite()
    assert abs(per_sat.mean() - 2 * synodic_per_day) < 1.0
    # With a threshold, never more handovers than nearest-only.
    assert cnaa(sats, c.start, nodes, window_s=86400.0, threshold=0.9).total <= result.total


def test_predict_handovers_from_a_tle_is_what_the_satellite_runs():
    c = load_constellation("starlink-shell1")
    sat = c.satellite("s0p3n7")
    tle = format_tle(sat.name, c.satrecs[sat.index])
    nodes = [ControlNode("eq0", 0, 0), ControlNode("eq180", 0, 180), ControlNode("north", 45, 90)]
    first, events = predict_handovers(tle, nodes, start=c.start, window_s=6 * 3600.0, threshold=0.9)
    batch = cnaa([c.satrecs[sat.index]], c.start, nodes, window_s=6 * 3600.0, threshold=0.9)
    assert first == nodes[int(batch.initial[0])].name
    assert [(e.offset_s, e.target) for e in events] == [(o, nodes[t].name) for o, _, t in batch.events(0)]
    assert events and all(e.time == c.start + dt.timedelta(seconds=e.offset_s) for e in events)
    assert all(a.target == b.source for a, b in zip(events, events[1:]))
    with pytest.raises(ConfigError):
        predict_handovers("not a tle", nodes)
