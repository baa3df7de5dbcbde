"""Predicted handovers (the trace-driven core of Figs. 2 and 10-12)."""
import numpy as np
import pytest

from leonet.krios.manager import ZoneManager
from leonet.krios.replication import availability, min_uniform_replicas, uniform_selection
from leonet.krios.timeline import plan
from leonet.krios.zones import Zone

SF = Zone("sf", 37.7749, -122.4194, 100.0, 25.0)


@pytest.fixture(scope="module")
def manager(shell1):
    return ZoneManager(shell1)


def test_proactive_handovers_keep_the_zone_available_with_about_one_instance(manager):
    p = plan(manager, SF, 0.0, 6000.0, "krios", "proactive", lead_s=5.0, init_s=5.0)
    assert p.availability(manager) == 1.0
    iv = p.intervals_s()
    assert len(iv) >= 20 and 150 < np.median(iv) < 260
    # make before break: each pair overlaps for the lead (t_i), and 1 + t_i / interval instances on average
    assert np.allclose(p.overlap_s(), 5.0, atol=1e-6)
    assert p.mean_instances() == pytest.approx(1 + 5.0 * len(p.overlap_s()) / 6000.0, abs=1e-6)
    assert 1.01 < p.mean_instances() < 1.04
    for a, b in zip(p.instances, p.instances[1:]):
        assert b.created_s < a.exit_s and b.ready_s <= a.exit_s + 1e-6 and a.deleted_s == b.ready_s


def test_reactive_handovers_lose_t_i_at_each_handover(manager):
    p = plan(manager, SF, 0.0, 3600.0, "krios", "reactive", init_s=5.0)
    handovers = len(p.instances) - 1
    lost = (1 - p.availability(manager)) * 3600.0
    assert handovers >= 10
    assert lost == pytest.approx(5.0 * handovers, abs=handovers + 1)


def test_scheduler_only_loses_the_zone_when_its_satellite_leaves(manager):
    p = plan(manager, SF, 0.0, 6000.0, "krios", "none")
    assert len(p.instances) == 1 and p.handovers == []
    assert 0.02 < p.availability(manager) < 0.06


def test_krios_beats_closest_and_random(manager):
    mean = {pol: plan(manager, SF, 0.0, 4 * 3600.0, pol).intervals_s().mean() for pol in ("krios", "closest", "random")}
    assert mean["krios"] / mean["closest"] > 1.3
    assert mean["krios"] / mean["random"] > 1.5


def test_naive_replication_availability_grows_with_the_replicas(manager):
    point = Zone("p", 37.7749, -122.4194, 0.0, 25.0)
    m = manager.membership(point, np.arange(0.0, 6000.0, 1.0))
    n = m.shape[0]
    a = [availability(m, uniform_selection(n, int(f * n))) for f in (0.05, 0.1, 0.2, 0.3)]
    assert a[0] < a[1] < a[2] <= a[3] and a[3] > 0.95
    k = min_uniform_replicas(m)
    assert 100 < k < n and availability(m, uniform_selection(n, k)) == 1.0
