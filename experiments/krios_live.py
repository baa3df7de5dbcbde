"""Shared pieces of the live Krios experiments (Fig. 9, Table 2, Table 6, Fig. 13):
a scenario with the zones' client stations and a control station, a live run with
its control plane, Krios daemon and agents, pods, zone clients, and the analysis of
the clients' request logs.

Everything runs on the emulation: the control plane in the control station's
namespace, agents in the satellites' namespaces (one process), the apps as pods on
satellites, the clients as processes in the zone's ground stations. Run the scripts
with root, one at a time (``flock /tmp/leonet-live.lock ...``).
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import yaml

from krios_common import ROOT  # noqa: F401  (puts the repository on sys.path)
from leonet.krios.geometry import destination
from leonet.krios.kube import ANN_ZONE, LABEL_APP, LABEL_HANDOVER, LABEL_POLICY
from leonet.krios.manager import ZoneManager
from leonet.krios.zones import Zone

APPS = ROOT / "apps" / "krios"
#: the paper's controller location (38.875 N, 121.707 W); our control station
CONTROL = {"name": "Control", "lat_deg": 38.875, "lon_deg": -121.707}
SHELL1 = {"name": "shell1", "walker": "delta", "planes": 72, "sats_per_plane": 22, "altitude_km": 550,
          "inclination_deg": 53}
#: a smaller shell at the same altitude for --quick runs (bring-up in seconds)
SMALL_SHELL = {"name": "small", "walker": "delta", "planes": 36, "sats_per_plane": 20, "altitude_km": 550,
               "inclination_deg": 53}


def require_root() -> None:
    if os.geteuid() != 0:
        raise SystemExit("this experiment runs the live emulation: run it as root, under "
                         "`flock /tmp/leonet-live.lock`")


def zone_stations(prefix: str, zone: Zone, edges: int) -> List[dict]:
    """Client ground stations: the zone's centre and ``edges`` points just inside its edge."""
    out = [{"name": prefix, "lat_deg": zone.lat_deg, "lon_deg": zone.lon_deg}]
    r = max(zone.radius_km - 1.0, 0.0)
    for k in range(edges if r > 0 else 0):
        lat, lon = destination(zone.lat_deg, zone.lon_deg, 360.0 * k / edges, r)
        out.append({"name": f"{prefix}{k}", "lat_deg": lat, "lon_deg": lon})
    return out


def agent_satellites(c, zones: Iterable[Zone], start_s: float, duration_s: float, extra: int = 0,
                     seed: int = 0, margin_s: float = 600.0) -> List[str]:
    """Satellites that pass through any zone's region in the window (they can host the
    zone's instances), plus ``extra`` others drawn at random (the stock scheduler's pool)."""
    m = ZoneManager(c)
    chosen = set()
    for z in zones:
        chosen |= {p.satellite for p in m.passes(z, start_s, duration_s + margin_s)}
    rng = np.random.default_rng(seed)
    others = [k for k in range(c.num_satellites) if k not in chosen]
    chosen |= set(int(k) for k in rng.choice(others, size=min(extra, len(others)), replace=False))
    return [c.satellites[k].name for k in sorted(chosen)]


def write_scenario(folder: Path, name: str, shell: dict, stations: List[dict], zones: Dict[str, dict],
                   agents, krios: Optional[dict] = None, start: str = "2026-01-31T00:00:00Z",
                   agent_process: str = "separate") -> Path:
    raw = {
        "name": name, "start": start,
        "defaults": {"min_elevation_deg": 25, "gsl_bandwidth_mbps": 1000, "isl_bandwidth_mbps": 10000},
        "shells": [shell], "ground_stations": [CONTROL, *stations],
        "controlplane": {"ground_stations": ["Control"],
                         "agents": {"satellites": agents if isinstance(agents, (str, int)) else list(agents),
                                    "process": agent_process}},
        "krios": {"control_ground_station": "Control", "dns_ttl_s": 1, "drain_s": 1, "zones": zones,
                  **(krios or {})},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def static_pod(name: str, port: int, zone: str, *, scheduler: str = "krios", handover: str = "proactive",
               policy: Optional[str] = None, size: Optional[int] = None, node: Optional[str] = None,
               startup_s: float = 0.0) -> dict:
    cmd = [sys.executable, str(APPS / "static_server.py"), "--port", str(port), "--startup-s", str(startup_s)]
    if size:
        cmd += ["--size", str(size)]
    return _pod(name, cmd, port, zone, scheduler, handover, policy, node)


def heartbeat_pod(name: str, port: int, zone: str, *, scheduler: str = "krios", handover: str = "proactive",
                  node: Optional[str] = None, startup_s: float = 0.0) -> dict:
    pod = _pod(name, [sys.executable, str(APPS / "heartbeat.py"), "--port", str(port), "--startup-s", str(startup_s)],
               port, zone, scheduler, handover, None, node)
    pod["metadata"]["annotations"]["krios.leonet.io/state-port"] = str(port)
    return pod


def _pod(name, cmd, port, zone, scheduler, handover, policy, node) -> dict:
    labels = {LABEL_APP: name, LABEL_HANDOVER: handover}
    if policy:
        labels[LABEL_POLICY] = policy
    spec = {"schedulerName": scheduler, "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "app", "image": "krios-app", "command": cmd,
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 0.5}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "annotations": {ANN_ZONE: zone}}, "spec": spec}


class Live:
    """A started :class:`~leonet.api.LeoNet` with Krios, a loop talking to the control
    plane from the control station, zone clients, and ticking under the script's
    control (the manual clock: emulated time stands still while the control plane
    registers and the first pods start, then :meth:`run_for` ticks in real time)."""

    def __init__(self, scenario: Path, start_s: float, out: Path, speed: float = 1.0, backend: str = "nfqueue"):
        from leonet.api import LeoNet
        self.net = LeoNet(str(scenario), clock="manual", backend=backend, offset_s=start_s, speed=speed)
        self.run = self.net.run
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._clients: List[subprocess.Popen] = []
        self._ticker: Optional[threading.Thread] = None
        self.conn = None
        self.timings: Dict[str, float] = {}

    def __enter__(self) -> "Live":
        from leonet.krios.service import KriosService
        t0 = time.monotonic()
        self.net.start()
        try:
            self.timings["bring_up_s"] = time.monotonic() - t0
            self.cluster = self.net.cluster
            self.krios = KriosService.of(self.run)
            t0 = time.monotonic()
            self.cluster.wait_registered(900)
            self.timings["registration_s"] = time.monotonic() - t0
            self._thread.start()
            self.conn = self.cluster.connection("Control")
        except BaseException:
            self.net.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop_clients()
        self.net.controller.stop()
        if self._ticker is not None:
            self._ticker.join(30)
        if self.conn is not None:
            self.call(self.conn.close())
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        self.net.stop()

    def call(self, coro, timeout: float = 120.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # ------------------------------------------------------------------ pods
    def create(self, pod: dict) -> dict:
        return self.call(self.conn.create("v1", "pods", pod, namespace="default"))

    def pods(self) -> List[dict]:
        return self.call(self.conn.list("v1", "pods", "default"))["items"]

    def wait_ready(self, names: Sequence[str], timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for p in self.pods():
                if p["metadata"]["name"] in pending and any(
                        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or []):
                    pending.discard(p["metadata"]["name"])
            time.sleep(0.5)
        if pending:
            raise RuntimeError(f"pods not Ready after {timeout:.0f} s: {sorted(pending)}")

    # ------------------------------------------------------------------ time and clients
    def tick(self, duration_s: float) -> None:
        """Tick in real time (in the background) for ``duration_s`` emulated seconds."""
        self._ticker = threading.Thread(target=self.net.controller.run, args=(duration_s,), daemon=True)
        self._ticker.start()

    def ticking(self) -> bool:
        return self._ticker is not None and self._ticker.is_alive()

    def run_for(self, duration_s: float) -> float:
        """Tick in real time for ``duration_s`` emulated seconds with a progress bar;
        returns the emulated offset at which ticking began."""
        from tqdm import tqdm
        t0 = self.offset_now()
        self.tick(duration_s)
        bar = tqdm(total=round(duration_s), desc="emulated s", unit="s")
        while self.ticking():
            bar.n = round(min(duration_s, self.offset_now() - t0))
            bar.refresh()
            time.sleep(2.0)
        bar.close()
        return t0

    def offset_now(self) -> float:
        return self.net.controller.offset_now()

    def start_clients(self, stations: Sequence[str], targets: Sequence[str], interval: float = 1.0,
                      heartbeat: Optional[str] = None, tag: str = "") -> List[Path]:
        logs = []
        for gs in stations:
            out = self.out / f"client{tag}-{gs}.jsonl"
            out.unlink(missing_ok=True)
            cmd = ["ip", "netns", "exec", self.run.node(gs).netns, sys.executable, str(APPS / "client.py"),
                   "--client", gs, "--interval", str(interval), "--out", str(out)]
            for t in targets:
                cmd += ["--target", t]
            if heartbeat:
                cmd += ["--heartbeat", f"{heartbeat}-{gs}"]
            self._clients.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            logs.append(out)
        return logs

    def stop_clients(self) -> None:
        for p in self._clients:
            if p.poll() is None:
                p.terminate()
        for p in self._clients:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        self._clients = []


# ---------------------------------------------------------------------------- analysis

def read_requests(paths: Iterable[Path]) -> List[dict]:
    rows = []
    for p in paths:
        if p.exists():
            rows += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return rows


def instance_nodes(handovers: List[dict], first: Dict[str, str]) -> Dict[str, str]:
    """Pod name -> node name, from the apps' first placements and the handover log."""
    out = dict(first)
    for h in handovers:
        if h.get("new_pod") and h.get("new_node"):
            out[h["new_pod"]] = h["new_node"]
    return out


def worst_case_per_second(rows: List[dict], target: str, bin_s: float = 1.0) -> Dict[int, dict]:
    """Per ``bin_s`` emulated seconds (keyed by the bin's first second): the largest
    latency over the zone's clients (a failed request counts as unavailable), the
    instances that answered and when (``answers``: (instance, emulated offset)).
    At a speed s > 1 a client's requests are s x interval emulated seconds apart, and a
    bin that long holds one round of every client."""
    out: Dict[int, dict] = {}
    for r in rows:
        if r["target"] != target or r.get("t_offset") is None:
            continue
        sec = int(np.floor(np.floor(r["t_offset"] / bin_s) * bin_s))
        cell = out.setdefault(sec, {"worst_ms": 0.0, "failed": 0, "requests": 0, "instances": set(), "answers": []})
        cell["requests"] += 1
        if r["ok"]:
            cell["worst_ms"] = max(cell["worst_ms"], r["total_ms"])
            cell["instances"].add(r["instance"])
            cell["answers"].append((r["instance"], r["t_offset"]))
        else:
            cell["failed"] += 1
    return out


def annotate_paths(rows: List[dict], engine, nodes: Dict[str, str], desc: str = "paths") -> None:
    """Add each request's network path at its second (the engine's, which the emulation
    routes along): ``hops`` (2: client -> satellite directly) and ``net_ms``, the two
    round trips of that path (connect + request) without any processing."""
    from tqdm import tqdm
    by_sec: Dict[int, List[dict]] = {}
    for r in rows:
        if r.get("t_offset") is not None and r["ok"] and r.get("instance") in nodes:
            by_sec.setdefault(int(np.floor(r["t_offset"])), []).append(r)
    for sec in tqdm(sorted(by_sec), desc=desc, unit="s", leave=False):
        snap = engine.snapshot(float(sec))
        cache: Dict[tuple, tuple] = {}
        for r in by_sec[sec]:
            key = (r["client"], nodes[r["instance"]])
            if key not in cache:
                p = snap.path(*key)
                cache[key] = (len(p.hops), 4 * p.delay_ms if p.reachable else None)
            r["hops"], r["net_ms"] = cache[key]
