"""What the KubeSpace runtime of the active run is doing, for ``leonet kubespace status|log`` and the
Mininet CLI's ``bindings``: which nodes each plane owns, which handovers are in flight, and the recent
handovers with their step timings."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from ...controlplane.agent import ApiConnection
from ...controlplane.binding import STATES, binding_handover, binding_state
from ...controlplane.errors import ApiError
from ...errors import LeonetError
from . import resources as R
from .service import STATE_DIR


async def _plane_bindings(name: str, plane: Dict[str, Any]) -> Dict[str, Any]:
    conn = ApiConnection.from_kubeconfig(plane["kubeconfig"], netns=plane["netns"])
    conn.request_timeout = 10.0
    try:
        nodes = (await conn.list("v1", "nodes"))["items"]
        try:
            requests = (await conn.list(R.API_VERSION, R.PLURAL))["items"]
        except ApiError:
            requests = []
    except ApiError as e:
        return {"error": e.message}
    finally:
        await conn.close()
    by_state: Dict[str, List[str]] = {s: [] for s in STATES}
    for n in nodes:
        by_state[binding_state(n)].append(n["metadata"]["name"])
    in_flight = [{"request": r["metadata"]["name"], "node": r["spec"].get("nodeName"),
                  "target": r["spec"].get("targetPlane"), "phase": R.phase(r) or R.PENDING}
                 for r in requests if R.phase(r) in R.ACTIVE_PHASES]
    # a Finished request whose node is still Releasing here is still in flight (steps 9-16)
    releasing = {binding_handover(n) for n in nodes if binding_state(n) == "Releasing"}
    in_flight += [{"request": r["metadata"]["name"], "node": r["spec"].get("nodeName"),
                   "target": r["spec"].get("targetPlane"), "phase": R.FINISHED}
                  for r in requests if R.phase(r) == R.FINISHED and r["metadata"]["name"] in releasing]
    return {"nodes": by_state, "in_flight": in_flight,
            "requests": {p: sum(1 for r in requests if (R.phase(r) or R.PENDING) == p)
                         for p in (R.PENDING, R.PROCESSING, R.FINISHED, R.FAILED)}}


def bindings(planes: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per plane: its nodes by binding state, the handovers in flight, request counts by phase.
    ``planes`` as :func:`leonet.controlplane.cluster.active_planes` gives them (needs root: the
    planes are reachable from their stations' namespaces only)."""
    async def gather() -> Dict[str, Dict[str, Any]]:
        results = await asyncio.gather(*(_plane_bindings(n, p) for n, p in planes.items()))
        return dict(zip(planes, results))
    return asyncio.run(gather())


def status_rows(b: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    rows = []
    for plane, info in b.items():
        if "error" in info:
            rows.append({"plane": plane, "bound": "?", "binding": "?", "releasing": "?", "released": "?",
                         "in_flight": f"unreachable: {info['error']}"})
            continue
        n = info["nodes"]
        flight = ", ".join(f"{f['node']}->{f['target']} ({f['phase']})" for f in info["in_flight"]) or "-"
        rows.append({"plane": plane, "bound": len(n["Bound"]), "binding": len(n["Binding"]),
                     "releasing": len(n["Releasing"]), "released": len(n["Released"]), "in_flight": flight})
    return rows


def node_bindings(b: Dict[str, Dict[str, Any]], node: str) -> Dict[str, str]:
    """{plane: the node's binding state there} (planes that do not know it are left out)."""
    out = {}
    for plane, info in b.items():
        for state, names in (info.get("nodes") or {}).items():
            if node in names:
                out[plane] = state
    return out


def runtime_index() -> Dict[str, Any]:
    """The active run's KubeSpace runtime (planes, metric, log path); a clear error without one."""
    from ...emulation import runstate
    try:
        index = json.loads((STATE_DIR / "index.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        index = None
    if index is None or runstate.active_run() is None:   # none, or a crashed run's leftovers
        raise LeonetError("no KubeSpace runtime is running (start a run whose scenario sets "
                          "`kubespace: {runtime: {enabled: true}}`)")
    return index


def read_log(limit: int = 20, node: Optional[str] = None, path: Optional[Path] = None) -> List[Dict[str, Any]]:
    """The last ``limit`` handovers from the runtime's log (all with ``limit`` 0)."""
    path = path or Path(runtime_index()["log"])
    out: List[Dict[str, Any]] = []
    if path.exists():
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if node is None or rec["node"] == node or rec["satellite"] == node:
                    out.append(rec)
    return out[-limit:] if limit else out


def step_offsets_ms(rec: Dict[str, Any]) -> Dict[int, float]:
    """Each recorded step's time after step 1, in ms (wall clock)."""
    steps = {s["step"]: s["wall"] for s in rec["steps"]}
    t0 = steps.get(1)
    return {} if t0 is None else {k: round((v - t0) * 1e3, 1) for k, v in sorted(steps.items())}


def log_rows(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    rows = []
    for r in records:
        first = r["steps"][0] if r["steps"] else {}
        rows.append({"time": first.get("time") or "", "node": r["node"], "from": r["source"], "to": r["target"],
                     "outcome": r["outcome"] + (f" ({r['failure_reason']})" if r["failure_reason"] else ""),
                     "duration_ms": None if r["duration_s"] is None else round(r["duration_s"] * 1e3, 1),
                     "steps_ms": " ".join(f"{k}:{v:g}" for k, v in step_offsets_ms(r).items())})
    return rows
