"""The Krios scheduler's filter and score without an API server: node objects as a
watch cache holds them, replaced by new versions as status updates arrive (the
per-object facts must follow), nodes added and removed (the zones manager must
follow), the resource filter; and the controller's lead time at emulation speeds."""
import asyncio
import copy

import pytest

from leonet.krios.clock import FixedRateClock
from leonet.krios.config import krios_config
from leonet.krios.manager import ZoneManager
from leonet.krios.scheduler import KriosScheduler


def node(name: str, pods: str = "110") -> dict:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}, "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "allocatable": {"cpu": "4", "memory": "8Gi", "pods": pods}}}


def pod(name: str, zone: str = "sf", node_name: str = "") -> dict:
    spec = {"schedulerName": "krios", "containers": [{"name": "a", "image": "x"}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": {"name": name, "namespace": "default", "annotations": {"krios.leonet.io/zone": zone}},
            "spec": spec, "status": {"phase": "Running" if node_name else "Pending"}}


@pytest.fixture
def sched(shell1):
    async def build():
        return KriosScheduler(None, shell1, krios_config(shell1.scenario), FixedRateClock(1000.0, 0.0))
    s = asyncio.run(build())
    for sat in shell1.satellites:
        s.nodes.objects[("", sat.name)] = node(sat.name)
    return s


def replace_node(s: KriosScheduler, name: str, change) -> None:
    new = copy.deepcopy(s.nodes.objects[("", name)])
    change(new)
    s.nodes.objects[("", name)] = new
    s._node_event("MODIFIED", new)


def test_picks_the_zone_member_the_policy_prefers_and_follows_node_updates(sched, shell1):
    zone = sched.cfg.zones["sf"]
    exact = ZoneManager(shell1)
    members = [int(k) for k in exact.members(zone, 1000.0)]
    assert len(members) >= 3
    order = sorted(members, key=lambda k: -exact.scores(zone, 1000.0, [k])[0])
    first = sched.decide(pod("a"))
    assert first.satellite == shell1.satellites[order[0]].name and first.node == first.satellite
    # zone first: only the region's nodes go through the other filters
    assert first.candidates == first.feasible == first.checked == len(members)

    # new versions of the best node: NotReady, then cordoned, then tainted; each excludes it
    def not_ready(n): n["status"]["conditions"][0]["status"] = "False"
    def cordon(n): n["spec"]["unschedulable"] = True
    def taint(n): n["spec"]["taints"] = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    best = first.node
    for change in (not_ready, cordon, taint):
        replace_node(sched, best, change)
        d = sched.decide(pod("a"))
        assert d.node != best and d.satellite == shell1.satellites[order[1]].name
        sched.nodes.objects[("", best)] = node(best)          # healthy again
        sched._node_event("MODIFIED", sched.nodes.objects[("", best)])
        assert sched.decide(pod("a")).node == best
    # a pod that tolerates the taint may go there
    replace_node(sched, best, taint)
    tolerant = pod("a")
    tolerant["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    assert sched.decide(tolerant).node == best

    # the node is deleted: the zones manager is rebuilt without its satellite
    gone = sched.nodes.objects.pop(("", best))
    sched._node_event("DELETED", gone)
    assert sched.decide(pod("a")).node == shell1.satellites[order[1]].name
    assert order[0] not in set(int(k) for k in sched.manager().ids)


def test_full_nodes_are_filtered_and_no_member_means_no_decision(sched, shell1):
    zone = sched.cfg.zones["sf"]
    members = [shell1.satellites[int(k)].name for k in ZoneManager(shell1).members(zone, 1000.0)]
    for name in members:          # every member holds one pod and allows one
        replace_node(sched, name, lambda n: n["status"]["allocatable"].update(pods="1"))
        sched.pods.objects[("default", f"on-{name}")] = pod(f"on-{name}", node_name=name)
    d = sched.decide(pod("b"))
    assert d.node is None and d.feasible == 0 and d.checked == len(members)
    assert f"{len(members)} on satellites in zone sf's projected region now, none of them fits" in d.reason
    sched.noop = True
    assert sched.decide(pod("b")).node not in members


def test_the_automatic_lead_scales_its_real_time_parts_with_the_emulation_speed(shell1):
    """At speed s, t_i, t_AT and the DNS switch each let s emulated seconds pass."""
    from leonet.krios.controller import LeoController
    from leonet.krios.endpoints import Endpoints
    from leonet.krios.timeline import PAPER_PATH_ERROR_S
    cfg = krios_config(shell1.scenario)

    async def lead(rate: float) -> float:
        ctrl = LeoController(None, shell1, cfg, FixedRateClock(0.0, rate), Endpoints())
        ctrl.init_samples.append(2.0)
        return ctrl.lead_s("proactive"), ctrl.lead_s("reactive")
    one, zero = asyncio.run(lead(1.0))
    six, _ = asyncio.run(lead(6.0))
    assert zero == 0.0
    assert one == pytest.approx(PAPER_PATH_ERROR_S + 2.0 + cfg.transfer_s + cfg.dns_ttl_s)
    assert six - PAPER_PATH_ERROR_S == pytest.approx(6 * (one - PAPER_PATH_ERROR_S))


def test_a_node_that_comes_to_name_a_satellite_in_the_region_becomes_a_candidate(sched, shell1):
    """The zone filter looks nodes up by satellite; a node whose label moves it onto a
    region member (a status update, not a new node) must be found there."""
    zone = sched.cfg.zones["sf"]
    members = [shell1.satellites[int(k)].name for k in ZoneManager(shell1).members(zone, 1000.0)]
    for name in members:       # the members' own nodes cannot take the pod
        replace_node(sched, name, lambda n: n["spec"].update(unschedulable=True))
    assert sched.decide(pod("c")).node is None
    outside = next(s.name for s in shell1.satellites if s.name not in members)
    replace_node(sched, outside, lambda n: n["metadata"]["labels"].update({"leonet.io/satellite": members[0]}))
    d = sched.decide(pod("c"))
    assert d.node == outside and d.satellite == members[0]


def test_an_idle_scheduler_has_the_next_seconds_positions_ready(shell1):
    """Between pods the scheduler propagates the next emulated second's knot, so the
    first decision in that second does not pay for an SGP4 run of the cluster; while
    pods wait for decisions it does not."""
    async def run() -> tuple:
        s = KriosScheduler(None, shell1, krios_config(shell1.scenario), FixedRateClock(1000.0, 1.0))
        for sat in shell1.satellites:
            s.nodes.objects[("", sat.name)] = node(sat.name)
        s.warm_up()
        busy = asyncio.ensure_future(s._keep_positions_ready())
        await asyncio.sleep(0.6)                  # _idle not set: pods would be waiting
        before = set(s.manager()._knots)
        s._idle.set()
        await asyncio.sleep(0.6)
        busy.cancel()
        return before, set(s.manager()._knots), s.clock.offset_s()
    before, after, now = asyncio.run(run())
    assert before == {1000.0}
    new = after - before
    assert new and all(1000.0 < k <= float(int(now)) + 1 for k in new)     # ahead, but only the next second
