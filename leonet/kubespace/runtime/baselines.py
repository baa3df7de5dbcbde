"""The paper's multi-control-plane baselines as handover procedures of the same runtime (§II, Fig. 3(a);
§V-A): what a satellite's daemon does at a CNAA handover when ``kubespace.runtime.platform`` is not
``kubespace``. The decision (CNAA, the schedule, retries) is the daemon host's, as for KubeSpace; only
the handover differs.

* ``leave-rejoin`` (Karmada-like): the node leaves the source cluster and joins the target as a new
  node. The pods' configuration is read from the source (to synchronise it to the target), the node is
  cordoned, its pods are evicted and stop, the agent disconnects, the Node and its Lease are deleted on
  the source (from here the node is invisible), the agent clears its cluster configuration, joins the
  target with the target's bootstrap token and a CSR (TLS bootstrap: the target's certificates
  controller approves and signs it), registers as a new Node, and the pods are recreated on the target
  from the synchronised configuration, to be scheduled there (a ``kubernetes.io/hostname`` node
  selector keeps them on this satellite) and started anew.
* ``rejoin`` (Multi-KubeEdge-like): the pods keep running from the agent's local cache of their
  configuration. The agent disconnects from the source, the pods, Node and Lease are deleted there
  (invisible from here), it joins the target by the same TLS bootstrap and registers anew, and the pods
  are recreated there from its cache, bound to the node: the agent adopts them, still running.

The source-side "administrator" actions (cordon, evict, delete) and the recreation of pods on the target
use the daemon's node credentials (the control plane authorises nodes broadly); in Karmada they are the
federation's and the operator's, over the same links. Every message crosses the emulated network.

A failure before the node left the source undoes the cordon and fails the handover (the node never
stopped being managed). After it left, the daemon keeps joining the target, then the source, alternately,
until one takes the node: the node may be invisible for a while but never ends unmanaged.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from ...controlplane.agent import ApiConnection, request_node_certificate
from ...controlplane.errors import ApiError
from . import resources as R

log = logging.getLogger("leonet.kubespace.baselines")

LEASE_API, LEASE_NS = "coordination.k8s.io/v1", "kube-node-lease"
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: seconds to wait for evicted pods to stop, and for recreated pods to run again
DRAIN_TIMEOUT_S = 60.0
RESTART_TIMEOUT_S = 120.0
#: seconds one attempt to join a plane may take (bootstrap + registration)
JOIN_TIMEOUT_S = 30.0


def pod_template(pod: dict, node: str, bind: bool) -> dict:
    """A pod's configuration to create anew elsewhere: metadata (name, namespace, labels, annotations)
    and spec without the server's fields. ``bind``: keep it on ``node`` by ``spec.nodeName`` (no
    scheduling); otherwise by a ``kubernetes.io/hostname`` node selector (scheduled again)."""
    md = pod.get("metadata") or {}
    spec = copy.deepcopy(pod.get("spec") or {})
    spec.pop("nodeName", None)
    if bind:
        spec["nodeName"] = node
    else:
        spec.setdefault("nodeSelector", {})[HOSTNAME_LABEL] = node
    meta = {k: copy.deepcopy(md[k]) for k in ("name", "namespace", "labels", "annotations") if md.get(k)}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _live(pod: dict) -> bool:
    return not (pod.get("metadata") or {}).get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


async def _ignore_404(coro: Awaitable[Any]) -> None:
    try:
        await coro
    except ApiError as e:
        if e.code != 404:
            raise


async def _delete_node(conn: ApiConnection, node: str) -> None:
    await _ignore_404(conn.delete("v1", "nodes", node))
    await _ignore_404(conn.delete(LEASE_API, "leases", node, LEASE_NS))


class _MarkingConnection(ApiConnection):
    """A connection that calls ``on_create()`` once its first create is answered (the CSR's)."""

    on_create: Optional[Callable[[], None]] = None

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        out = await super().create(*args, **kwargs)
        if self.on_create is not None:
            self.on_create()
            self.on_create = None
        return out


async def _join(d: Any, plane: str, rec: Any, csr_step: int, adopt_grace: float) -> ApiConnection:
    """TLS bootstrap on ``plane`` (a CSR with its bootstrap token, approved and signed by its certificates
    controller: steps ``csr_step`` and ``csr_step + 1``), then register the node there as a new node
    (``csr_step + 2``). Returns the agent's new connection (credentials from the CSR)."""
    url, ca_pem, token = d.bootstrap(plane)
    boot = _MarkingConnection(url, ca_pem, token=token, netns=d.agent.netns, request_timeout=10.0,
                              name=f"{plane} (bootstrap)")
    boot.on_create = lambda: rec.mark(csr_step, d.clock)
    try:
        cert, key = await request_node_certificate(boot, d.node, timeout=JOIN_TIMEOUT_S, poll=0.05)
    finally:
        await boot.close()
    rec.mark(csr_step + 1, d.clock)
    new = ApiConnection(url, ca_pem, cert_pem=cert, key_pem=key, netns=d.agent.netns,
                        request_timeout=10.0, name=plane)
    try:
        # a node joining anew finds no record of itself (a plane of a run that switched platforms may
        # keep a Released copy from a KubeSpace handover): one round trip, a 404 in a baseline-only run
        await _delete_node(new, d.node)
        await d.agent.join(new, adopt_grace=adopt_grace, timeout=JOIN_TIMEOUT_S)
    except BaseException:
        await new.close()
        raise
    rec.mark(csr_step + 2, d.clock)
    return new


async def _join_somewhere(d: Any, rec: Any, csr_step: int, adopt_grace: float) -> Tuple[str, ApiConnection]:
    """Join the target; while that fails, the source and the target alternately (the node has left
    the source: it must end managed by one of them). Returns the plane and a connection for the daemon."""
    attempt = 0
    while True:
        plane = (rec.target, rec.source)[attempt % 2]
        try:
            agent_conn = await _join(d, plane, rec, csr_step, adopt_grace)
            return plane, agent_conn.with_credentials(cert_pem=agent_conn.cert_pem, key_pem=agent_conn.key_pem)
        except ApiError as e:
            log.warning("%s: joining %s failed: %s", d.node, plane, e.message)
            if attempt == 0:
                rec.message = f"joining {plane}: {e.message}"
        attempt += 1
        await asyncio.sleep(min(d.timeouts.retry_s * attempt, 10.0))


async def _recreate(conn: ApiConnection, pods: List[dict]) -> List[Tuple[str, str]]:
    keys = []
    for p in pods:
        ns = p["metadata"].get("namespace", "default")
        try:
            await conn.create("v1", "pods", p, ns)
        except ApiError as e:
            if e.code != 409:   # already there (a retry): keep it
                raise
        keys.append((ns, p["metadata"]["name"]))
    return keys


def _finish(d: Any, rec: Any, plane: str, conn: ApiConnection) -> None:
    old = d._conns.pop(rec.source, None)
    if old is not None:
        asyncio.get_running_loop().create_task(old.close())
    d._conns[plane] = conn
    d.plane = plane
    d._on_switched(plane)
    if plane == rec.target:
        rec.outcome = "Finished"
    else:
        rec.fail(R.TARGET_UNREACHABLE, rec.message or f"could not join {rec.target}; rejoined {rec.source}")


async def leave_rejoin(d: Any, rec: Any) -> None:
    """The Karmada-like handover (module docstring)."""
    agent = d.agent
    src = d.conn(rec.source)
    rec.mark(1, d.clock)
    try:
        listed = await src.list("v1", "pods", fieldSelector=f"spec.nodeName={d.node}")
        config = [pod_template(p, d.node, bind=False) for p in listed["items"] if _live(p)]
        rec.mark(2, d.clock)
        await src.patch("v1", "nodes", d.node, {"spec": {"unschedulable": True}})
        rec.mark(3, d.clock)
        for p in config:
            await _ignore_404(src.create("v1", "pods", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                        "metadata": {"name": p["metadata"]["name"],
                                                                     "namespace": p["metadata"]["namespace"]}},
                                         p["metadata"]["namespace"], subresource="eviction",
                                         name=p["metadata"]["name"]))
        rec.mark(4, d.clock)
        await _wait_drained(d, src, DRAIN_TIMEOUT_S)
        rec.mark(5, d.clock)
    except ApiError as e:   # still on the source: undo the cordon, put back what was evicted, fail
        try:
            await src.patch("v1", "nodes", d.node, {"spec": {"unschedulable": None}})
            if 4 in rec.steps:
                await _recreate(src, config)
        except ApiError:
            pass
        rec.fail(R.SOURCE_LOST if e.code in (503, 504) else R.REQUEST_FAILED,
                 f"draining on {rec.source}: {e.message}")
        return
    old = await agent.disconnect()
    rec.mark(6, d.clock)
    await _leave(d, rec, src)
    rec.mark(7, d.clock)
    await old.close()
    rec.mark(8, d.clock)
    plane, conn = await _join_somewhere(d, rec, 9, adopt_grace=0.0)
    keys = await _recreate(conn, config)
    rec.mark(12, d.clock)
    _finish(d, rec, plane, conn)
    if await _wait_running(agent, keys, RESTART_TIMEOUT_S):
        rec.mark(13, d.clock)


async def rejoin(d: Any, rec: Any) -> None:
    """The Multi-KubeEdge-like handover (module docstring)."""
    agent = d.agent
    src = d.conn(rec.source)
    rec.mark(1, d.clock)
    config = [pod_template(p, d.node, bind=True) for p in agent.cached_pods() if _live(p)]
    rec.mark(2, d.clock)
    old = await agent.disconnect()
    rec.mark(3, d.clock)
    for p in config:
        md = p["metadata"]
        try:
            await _ignore_404(src.delete("v1", "pods", md["name"], md.get("namespace", "default"),
                                         {"gracePeriodSeconds": 0}))
        except ApiError as e:   # the source's pod GC removes them once the node is gone
            log.debug("%s: deleting %s on %s: %s", d.node, md["name"], rec.source, e)
    await _leave(d, rec, src)
    rec.mark(4, d.clock)
    await old.close()
    rec.mark(5, d.clock)
    plane, conn = await _join_somewhere(d, rec, 6, adopt_grace=RESTART_TIMEOUT_S)
    await _recreate(conn, config)
    rec.mark(9, d.clock)
    _finish(d, rec, plane, conn)


async def _leave(d: Any, rec: Any, src: ApiConnection) -> None:
    """Delete the Node and its Lease on the source (retrying while it does not answer, for a while: a
    source that stays silent keeps a stale copy, which its node lifecycle controller marks Unknown)."""
    deadline = time.monotonic() + d.timeouts.decision_s
    while True:
        try:
            await _delete_node(src, d.node)
            return
        except ApiError as e:
            if time.monotonic() > deadline:
                log.warning("%s: could not delete the node on %s: %s", d.node, rec.source, e.message)
                return
            await asyncio.sleep(d.timeouts.retry_s)


async def _wait_drained(d: Any, src: ApiConnection, timeout: float) -> None:
    """Until the agent stopped every pod and the source lists none on the node."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not d.agent.runtime.pods():
            left = await src.list("v1", "pods", fieldSelector=f"spec.nodeName={d.node}")
            if not left["items"]:
                return
        await asyncio.sleep(0.05)
    raise ApiError(504, f"pods of {d.node} did not stop within {timeout:g} s", "Timeout")


async def _wait_running(agent: Any, keys: List[Tuple[str, str]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(agent.pod_pid(ns, name) is not None for ns, name in keys):
            return True
        await asyncio.sleep(0.05)
    return False


#: platform -> its handover procedure, ``fn(daemon, record)``
BASELINE_HANDOVERS: Dict[str, Callable[[Any, Any], Awaitable[None]]] = {
    "leave-rejoin": leave_rejoin, "rejoin": rejoin}
