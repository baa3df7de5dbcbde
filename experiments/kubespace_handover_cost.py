"""What one handover costs on the live emulation, measured the same way for every platform (shared by
``kubespace_fig3b.py`` and ``kubespace_table1.py --live``): a web pod per measured satellite, the
invisibility probe (every plane listed every 100 ms) and the HTTP probe (a GET of each pod every
100 ms, from a ground station), and the handover's own record (its steps' wall times).

Per handover: ``duration_s`` (the record's: KubeSpace step 1-16, a baseline's decision to its pods
recreated on the target), ``registered_s`` (a baseline's decision to its node registered on the target:
the paper's "stopping, cleaning up, reconnecting and re-registering"), ``invisible_s`` (probe samples
in which no plane listed the node, within the handover's window), ``downtime_s`` (failed GETs x the
probe interval) and ``restored_s`` (the decision to the GET after the last failed one: the service is
available again).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from kubespace_common import ROOT
from kubespace_handover_timeline import Admin  # noqa: F401  (re-exported for the scripts)
from leonet.kubespace.runtime import resources as R

WEB_PORT = 8080
WEB_IMAGE = "leonet-web:latest"
WWW = ROOT / "images" / "leonet-web" / "www"       #: what the process runtime's httpd serves
PAGE = "/index.html"
RUNTIMES = ("docker", "process")


def web_pod(node: str, runtime: str) -> dict:
    """The paper's workload on ``node``: busybox httpd serving one file on port 8080, as a container of
    the ``leonet-web`` image (docker runtime) or as a process serving the same folder (process runtime)."""
    c: Dict[str, Any] = {"name": "web", "image": WEB_IMAGE,
                         "readinessProbe": {"httpGet": {"path": PAGE, "port": WEB_PORT}, "periodSeconds": 0.5}}
    if runtime == "process":
        c["command"] = ["busybox", "httpd", "-f", "-p", str(WEB_PORT), "-h", str(WWW)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"web-{node}", "namespace": "default"},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "terminationGracePeriodSeconds": 5,
                     "containers": [c]}}


def is_ready(pod: Optional[dict]) -> bool:
    return bool(pod) and any(c["type"] == "Ready" and c["status"] == "True"
                             for c in (pod.get("status") or {}).get("conditions") or [])


def start_web(admin: Admin, cluster: Any, satellites: List[str], runtime: str, timeout: float = 300.0) -> None:
    """Create the web pod of each satellite on the plane its node is on; wait until all are Ready."""
    plane = cluster.current_assignment()
    for sat in satellites:
        node = cluster.node_names[sat]
        admin.call(plane[sat], "create", "v1", "pods", web_pod(node, runtime), "default")
    deadline = time.monotonic() + timeout
    while True:
        pods = admin.pods()
        waiting = [s for s in satellites if not is_ready(pods.get(f"web-{cluster.node_names[s]}"))]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"web pods not Ready within {timeout:g} s: {waiting[:5]}")
        time.sleep(0.5)


def web_ready_on(admin: Admin, plane: str, node: str) -> bool:
    try:
        return is_ready(admin.call(plane, "get", "v1", "pods", f"web-{node}", "default", timeout=10))
    except Exception:
        return False


@dataclass
class HandoverCost:
    satellite: str
    platform: str
    source: str
    target: str
    outcome: str
    duration_s: Optional[float]
    registered_s: Optional[float]
    invisible_s: float
    downtime_s: float
    restored_s: float
    pod_restarted: bool
    steps_ms: Dict[int, float] = field(default_factory=dict)

    def row(self) -> Dict[str, Any]:
        out = asdict(self)
        out["steps_ms"] = " ".join(f"{k}:{v:.0f}" for k, v in sorted(self.steps_ms.items()))
        return out


COLUMNS = ["satellite", "platform", "source", "target", "outcome", "duration_s", "registered_s", "invisible_s",
           "downtime_s", "restored_s", "pod_restarted", "steps_ms"]


class Probes:
    """The invisibility and HTTP probes in child processes, and the monotonic instants they started."""

    def __init__(self, cluster: Any, run: Any, satellites: List[str], http_from: str, interval: float = 0.1):
        from leonet.kubespace.runtime.probes import HttpProbe, InvisibilityProbe, ProbeProcess, plane_endpoints
        self.interval = interval
        targets = {s: f"http://{run.node(s).address}:{WEB_PORT}{PAGE}" for s in satellites}
        # child processes: their requests must not take the run's interpreter
        self.http = ProbeProcess(HttpProbe, netns=run.node(http_from).netns, targets=targets, interval=interval,
                                 timeout=2.0).start()
        self.http_t0 = time.monotonic()
        self.vis = ProbeProcess(InvisibilityProbe, planes=plane_endpoints(cluster.planes),
                                nodes=[cluster.node_names[s] for s in satellites], interval=interval,
                                mode="list" if len(satellites) <= 20 else "watch").start()
        self.vis_t0 = time.monotonic()

    def stop(self) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        return self.vis.stop(), self.http.stop()


def cost_of(rec: Dict[str, Any], sat: str, node: str, vis: Dict[str, Any], web: Dict[str, Any], probes: Probes,
            restarted: bool, until_wall: Optional[float] = None) -> HandoverCost:
    """The costs of one recorded handover from the probes' results, within [its step 1, ``until_wall``]
    (default: its end + 60 s)."""
    steps = {s["step"]: s["wall"] for s in rec["steps"]}
    t1 = steps.get(1)
    mono = time.monotonic() - time.time()           # wall -> monotonic (the same machine's clocks)
    start = t1 + mono
    end = (until_wall if until_wall is not None else max(steps.values()) + 60.0) + mono
    invisible = 0.0
    for n, a, b in vis["gaps"]:
        a, b = a + probes.vis_t0, b + probes.vis_t0
        if n == node and b > start and a < end:
            invisible += min(b, end) - max(a, start)
    fails = [t + probes.http_t0 for t in web["targets"][sat]["failure_times"]]
    fails = [t for t in fails if start - probes.interval <= t <= end]
    reg = R.REGISTERED_STEP.get(rec.get("platform", "kubespace"))
    return HandoverCost(
        satellite=sat, platform=rec.get("platform", "kubespace"), source=rec["source"], target=rec["target"],
        outcome=rec["outcome"], duration_s=rec["duration_s"],
        registered_s=(steps[reg] - t1) if reg in steps else None,
        invisible_s=round(invisible, 3), downtime_s=round(len(fails) * probes.interval, 3),
        restored_s=round(max(fails) + probes.interval - start, 3) if fails else 0.0, pod_restarted=restarted,
        steps_ms={k: (v - t1) * 1e3 for k, v in steps.items()})
