"""KubeSpace's runtime as a service of a live run (attached by :func:`leonet.launch.prepare_run` when
the scenario's ``kubespace.runtime.enabled`` is true).

It shapes the run's :class:`~leonet.controlplane.cluster.ControlPlaneCluster` before it starts (a
:class:`~leonet.controlplane.cluster.ClusterExtension`):

* the planes: ``kubespace.runtime.planes`` (ground-station names, or ``cnpa``: Algorithm 1 with the
  ``kubespace.placement`` parameters), else ``controlplane.ground_stations``;
* every plane process gets the :mod:`.plane` plug-in (CRD, HRController, plane-to-plane channel);
* every satellite starts on the plane CNAA assigns it at the run's start (the nearest), and gets a Pod
  CIDR from its index: subnet ``index`` of size ``pod_cidr_prefix`` in ``pod_cidr`` (default /24s of
  10.128.0.0/9, outside the node addresses 10.64.0.0/10);

and once the planes and agents run, it loads the daemons into the agents process
(:mod:`.daemon_host`) and keeps the emulated clock file they and the planes read (:mod:`.clock`).
Its state (clock, handover log) is in ``/run/leonet/kubespace/``.
"""
from __future__ import annotations

import asyncio
import dataclasses
import difflib
import ipaddress
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import numpy as np

from ...controlplane.agent import ApiConnection
from ...controlplane.auth import TokenFile
from ...controlplane.cluster import ClusterExtension, ControlPlaneCluster
from ...controlplane.launch_config import ControlPlaneLaunchConfig, parse_controlplane_section
from ...errors import ConfigError, LeonetError
from ...orbits.tle import format_tle
from ..config import KubeSpaceConfig, default_interpolation, kubespace_config
from .clock import ClockWriter

if TYPE_CHECKING:
    from ...emulation.run import EmulationRun

log = logging.getLogger("leonet.kubespace.runtime")

STATE_DIR = Path("/run/leonet/kubespace")
PLANE_PLUGIN = "leonet.kubespace.runtime.plane:plane_plugin"
DAEMON_PLUGIN = "leonet.kubespace.runtime.daemon_host:daemon_host"


def pod_cidr(network: str, prefix: int, index: int) -> str:
    """Subnet ``index`` of size ``/prefix`` in ``network`` (the Pod CIDR of satellite ``index``)."""
    net = ipaddress.IPv4Network(network)
    size = 1 << (32 - prefix)
    if (index + 1) * size > net.num_addresses:
        raise ConfigError("kubespace.runtime.pod_cidr", network,
                          f"has room for {net.num_addresses // size} /{prefix} subnets, not {index + 1}",
                          "use a larger pod_cidr or a longer pod_cidr_prefix")
    return f"{ipaddress.IPv4Address(int(net.network_address) + index * size)}/{prefix}"


class KubeSpaceRuntime(ClusterExtension):
    """The runtime of one run: validates the ``kubespace:`` section with the run's names at construction."""

    def __init__(self, run: "EmulationRun", config: Optional[KubeSpaceConfig] = None,
                 state_dir: Path = STATE_DIR):
        self.run = run
        self.config = config or kubespace_config(run.scenario)
        rc = self.config.runtime
        nodes = run.engine.nodes
        self.satellite_names = list(nodes.names[:nodes.num_satellites])
        self.station_names = list(nodes.names[nodes.num_satellites:])
        raw = dict(run.scenario.sections.get("controlplane") or {})
        planes = self._planes(rc.planes, raw.get("ground_stations"))
        raw["ground_stations"] = planes
        self.cluster_config: ControlPlaneLaunchConfig = parse_controlplane_section(
            raw, self.satellite_names, self.station_names)
        if self.cluster_config.backend != "embedded":
            raise ConfigError("controlplane.backend", self.cluster_config.backend,
                              "KubeSpace's handover needs the embedded control plane (a stock kubelet cannot "
                              "hot-swap its control plane)", "use `backend: embedded` (the default)")
        if rc.sync_port == self.cluster_config.port:
            raise ConfigError("kubespace.runtime.sync_port", rc.sync_port, "is the API server's port",
                              "use another port, e.g. 6444")
        a = self.config.assignment
        self.metric = a.metric
        self.interpolation = a.interpolation or default_interpolation(a.metric)
        pod_cidr(rc.pod_cidr, rc.pod_cidr_prefix, len(self.satellite_names) - 1)   # room for every satellite
        self.state_dir = Path(state_dir)
        self.cluster: Optional[ControlPlaneCluster] = None
        self.clock: Optional[ClockWriter] = None
        self._prepared = False
        self._samples_end = float("inf")
        self._sampling = False
        self.platform = rc.platform
        self.bootstrap_tokens: Dict[str, str] = {}

    # ------------------------------------------------------------------ planes
    def _planes(self, wanted: Any, from_controlplane: Any) -> List[str]:
        if self.config.runtime.platform == "single-plane":
            return self._single_plane(wanted, from_controlplane)
        if wanted is None:
            if not from_controlplane:
                raise ConfigError("kubespace.runtime.planes", None, "no control planes named",
                                  "set kubespace.runtime.planes (names or cnpa) or controlplane.ground_stations")
            return from_controlplane
        if wanted == "cnpa":
            planes = self._cnpa()
        else:
            planes = list(wanted)
            for i, name in enumerate(planes):
                if name not in self.station_names:
                    close = difflib.get_close_matches(str(name), self.station_names, n=2)
                    raise ConfigError(f"kubespace.runtime.planes[{i}]", name, "not a ground station of the scenario",
                                      ("did you mean " + " or ".join(repr(c) for c in close) + "?") if close
                                      else "name ground stations of the scenario")
        if from_controlplane not in (None, "all") and list(from_controlplane) != planes:
            raise ConfigError("controlplane.ground_stations", from_controlplane,
                              f"differs from kubespace.runtime.planes ({', '.join(planes)})",
                              "name the control planes in one place (leave out controlplane.ground_stations)")
        return planes

    def _single_plane(self, wanted: Any, from_controlplane: Any) -> List[str]:
        """The single-plane baseline's one plane: the only name given, else the ground station near the
        equator (|latitude| <= 10 deg; ``city-*`` stations if there are any) that alone minimises the
        worst delay to any satellite over the placement period (the paper's Krios setting)."""
        named = wanted if isinstance(wanted, list) else (
            list(from_controlplane) if from_controlplane not in (None, "all") else None)
        if named is not None:
            if len(named) != 1:
                raise ConfigError("kubespace.runtime.planes", named,
                                  "the single-plane platform runs exactly one control plane",
                                  "name one ground station, or leave planes out to take the equatorial one")
            if named[0] not in self.station_names:
                raise ConfigError("kubespace.runtime.planes[0]", named[0], "not a ground station of the scenario",
                                  "name a ground station of the scenario")
            return list(named)
        from ..baselines import best_single, near_equator
        from ..metrics import delay_tensor
        p = self.config.placement
        c = self.run.constellation
        stations = list(range(len(c.ground_stations)))
        cities = [i for i in stations if c.ground_stations[i].name.startswith("city-")]
        pool = cities or stations
        allowed = [pool[int(i)] for i in near_equator([c.ground_stations[i].lat_deg for i in pool])]
        if not allowed:
            raise ConfigError("kubespace.runtime.planes", None, "no ground station within 10 deg of the equator",
                              "name the single plane: `planes: [<ground station>]`")
        log.info("single plane: the best of %d equatorial stations over %g s of snapshots (%s metric)...",
                 len(allowed), p.period_s, p.metric)
        metric = delay_tensor(c, np.arange(0.0, p.period_s, p.snapshot_interval_s), p.metric, allowed)
        best = allowed[best_single(metric, range(len(allowed)))]
        log.info("single plane on %s", c.ground_stations[best].name)
        return [c.ground_stations[best].name]

    def _cnpa(self) -> List[str]:
        """Algorithm 1 over the scenario's ground stations (or ``placement.candidates``)."""
        from ..metrics import delay_tensor, station_indices
        from ..placement import cnpa
        p = self.config.placement
        c = self.run.constellation
        stations = station_indices(c, p.candidates)
        if not 1 <= p.k <= len(stations):
            raise ConfigError("kubespace.placement.k", p.k, f"must be between 1 and the {len(stations)} candidates",
                              "lower k or add ground stations")
        log.info("CNPA: choosing %d of %d ground stations over %g s of snapshots every %g s (%s metric)...",
                 p.k, len(stations), p.period_s, p.snapshot_interval_s, p.metric)
        metric = delay_tensor(c, np.arange(0.0, p.period_s, p.snapshot_interval_s), p.metric, stations)
        placement = cnpa(metric, p.k, clusters=p.clusters, seed=p.seed, max_iterations=p.max_iterations,
                         feature_sample=p.feature_sample, plateau_moves=p.plateau_moves)
        chosen = [c.ground_stations[int(stations[i])].name for i in placement.selection]
        log.info("CNPA chose %s (worst one-way delay %.2f ms)", ", ".join(chosen), placement.score)
        return chosen

    def attach(self, cluster: ControlPlaneCluster) -> None:
        self.cluster = cluster
        cluster.extensions.append(self)

    # ------------------------------------------------------------------ cluster extension
    def _prepare(self) -> None:
        if self._prepared:
            return
        run = self.run
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)   # a crashed run's leftovers: this run holds the run lock
        self.state_dir.mkdir(parents=True, mode=0o700)
        c = run.controller
        assert c is not None, "start the run first"
        self.clock = ClockWriter(self.state_dir / "clock.json", run.scenario.start, c.step_s, c.speed)
        self.clock.tick(c.current_offset_s)
        c.hooks.tick.append(self._on_tick)
        self._prepared = True

    def initial_assignment(self, cluster: ControlPlaneCluster) -> Dict[str, str]:
        """CNAA's first plane (line 10): the nearest at the start, by straight-line distance (the path
        metric uses the cluster's own ``nearest``, by path delay)."""
        self._prepare()
        if self.metric == "path":
            return {}
        snap = self.run.network.snapshot
        nodes = self.run.engine.nodes
        planes = list(cluster.config.ground_stations)
        sats = list(cluster.config.agents.satellites)
        pos = snap.positions_km
        s_idx = np.array([nodes.index(s) for s in sats], dtype=int)
        g_idx = np.array([nodes.index(g) for g in planes], dtype=int)
        if not len(s_idx):
            return {}
        dist = np.linalg.norm(pos[s_idx][:, None, :] - pos[g_idx][None, :, :], axis=2)
        return {s: planes[int(i)] for s, i in zip(sats, dist.argmin(axis=1))}

    def plane_args(self, cluster: ControlPlaneCluster, ground_station: str, data_dir: Path) -> List[str]:
        self._prepare()
        rc = self.config.runtime
        peers = {g: f"https://{self.run.node(g).address}:{rc.sync_port}"
                 for g in cluster.config.ground_stations if g != ground_station}
        cfg = {"name": ground_station, "peers": peers, "sync_port": rc.sync_port,
               "sync_timeout_s": rc.sync_timeout_s, "binding_timeout_s": rc.binding_timeout_s,
               "request_ttl_s": rc.request_ttl_s, "clock": str(self.state_dir / "clock.json")}
        path = data_dir / "kubespace.json"
        path.write_text(json.dumps(cfg, indent=1))
        # the baselines join a plane by TLS bootstrap: a bootstrap token of its own (in its token file,
        # read by the plane at start), preloaded on the satellites as an operator would hand it out
        self.bootstrap_tokens[ground_station] = TokenFile(data_dir / "tokens.json").add_bootstrap(ttl=None)
        return ["--plugin", f"{PLANE_PLUGIN}={path}"]

    def agent_spec(self, cluster: ControlPlaneCluster, satellite: str, spec: Dict[str, Any]) -> None:
        rc = self.config.runtime
        spec["pod_cidr"] = pod_cidr(rc.pod_cidr, rc.pod_cidr_prefix, self.satellite_names.index(satellite))

    # ------------------------------------------------------------------ run service
    def start(self, run: "EmulationRun") -> "KubeSpaceRuntime":
        """Load the daemons into the agents process (after the cluster started)."""
        cluster = self.cluster
        assert cluster is not None and cluster.agents is not None, "the control-plane cluster must start first"
        self._prepare()
        c = run.constellation
        sats = {}
        for sat, node in cluster.node_names.items():
            tle = format_tle(sat, c.satrecs[c.satellite(sat).index]).splitlines()
            sats[node] = {"satellite": sat, "tle": tle[1:3]}
        planes = {}
        for g in cluster.config.ground_stations:
            gs = c.ground_station(g)
            planes[g] = {"lat_deg": float(gs.lat_deg), "lon_deg": float(gs.lon_deg), "alt_m": float(gs.alt_m)}
        a = self.config.assignment
        assignment = {"window_s": a.window_s, "sample_interval_s": a.sample_interval_s,
                      "decision_interval_s": a.decision_interval_s, "threshold": a.threshold,
                      "interpolation": self.interpolation}
        rc = self.config.runtime
        runtime = {"auto": rc.auto, "recompute_before_s": rc.recompute_before_s,
                   "retry_backoff_max_s": rc.retry_backoff_max_s, "binding_timeout_s": rc.binding_timeout_s,
                   "max_concurrent_handovers": rc.max_concurrent_handovers, "platform": rc.platform}
        samples = None
        if self.metric == "path":
            samples = str(self._path_samples(run.controller.current_offset_s))
        cluster.agents.call("plugin", spec=DAEMON_PLUGIN, args={
            "planes": planes, "satellites": sats, "scenario_start": run.scenario.start.isoformat(),
            "assignment": assignment, "runtime": runtime, "clock": str(self.state_dir / "clock.json"),
            "log_path": str(self.log_path), "metric": self.metric, "samples": samples,
            "bootstrap_tokens": self.bootstrap_tokens})
        (self.state_dir / "index.json").write_text(json.dumps({
            "planes": list(cluster.config.ground_stations), "metric": self.metric, "platform": rc.platform,
            "threshold": a.threshold, "log": str(self.log_path)}))
        log.info("KubeSpace (platform %s): %d daemons on %d planes (%s), CNAA on %s distance, threshold %g",
                 rc.platform, len(sats), len(planes), ", ".join(planes), self.metric, a.threshold)
        return self

    def stop(self) -> None:
        if self.run.controller is not None and self._on_tick in self.run.controller.hooks.tick:
            self.run.controller.hooks.tick.remove(self._on_tick)
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self._prepared = False

    @property
    def log_path(self) -> Path:
        return self.state_dir / "handovers.jsonl"

    def _on_tick(self, info: Any) -> None:
        if self.clock is not None:
            self.clock.tick(info.offset_s)
        a, rc = self.config.assignment, self.config.runtime
        if self.metric == "path" and not self._sampling and info.offset_s >= self._samples_end - \
                rc.recompute_before_s - a.sample_interval_s:
            self._sampling = True
            threading.Thread(target=self._next_samples, args=(info.offset_s,), daemon=True,
                             name="leonet-kubespace-samples").start()

    # ------------------------------------------------------------------ path metric (from the ground)
    def _path_samples(self, start_s: float) -> Path:
        """Path delays from every plane to every agent's satellite over the next window, for the daemons
        (the ground knows the whole topology; a satellite alone does not)."""
        from ..assignment import sample_offsets
        from ..metrics import path_delay
        a = self.config.assignment
        cluster = self.cluster
        c = self.run.constellation
        start_s = float(np.floor(start_s / a.sample_interval_s) * a.sample_interval_s)
        offsets = start_s + sample_offsets(a.window_s, a.sample_interval_s)
        stations = [c.ground_station(g).index for g in cluster.config.ground_stations]
        tensor = path_delay(c, offsets, stations, engine=self.run.engine)        # (S, K, N)
        nodes = list(cluster.node_names.values())
        sat_idx = [c.satellite(s).index for s in cluster.node_names]
        samples = np.transpose(tensor[:, :, sat_idx], (2, 1, 0))               # (N, K, S)
        path = self.state_dir / f"samples-{int(start_s)}.npz"
        np.savez(path, samples=samples, nodes=np.array(nodes), planes=np.array(cluster.config.ground_stations),
                 start_s=start_s)
        self._samples_end = float(offsets[-1])
        return path

    def _next_samples(self, now_s: float) -> None:
        try:
            path = self._path_samples(now_s)
            self.cluster.agents.call("kubespace_samples", path=str(path))
        except Exception as exc:   # the daemons keep their current schedules
            log.warning("KubeSpace: path samples for the next window: %s", exc)
        finally:
            self._sampling = False

    # ------------------------------------------------------------------ operations
    def _agents(self):
        if self.cluster is None or self.cluster.agents is None:
            raise LeonetError("the KubeSpace runtime is not running")
        return self.cluster.agents

    def handover(self, satellite: str, target: Optional[str] = None, reason: str = "requested") -> Dict[str, Any]:
        """Make a satellite's daemon hand over now (to ``target``, or to the plane nearest now); returns
        the handover's record (outcome and the 17 steps)."""
        node = self.cluster.node_name(satellite)
        if target is not None and target not in self.cluster.planes:
            raise ConfigError("target", target, "hosts no control plane in this run",
                              "control planes: " + ", ".join(self.cluster.planes))
        return self._agents().call("kubespace_handover", node=node, target=target, reason=reason)

    def status(self) -> Dict[str, Any]:
        """Per node: the daemon's plane, whether it is handing over, its next predicted handover."""
        return self._agents().call("kubespace_status")

    def handover_log(self, limit: int = 100, satellite: Optional[str] = None) -> List[Dict[str, Any]]:
        node = self.cluster.node_name(satellite) if satellite else None
        return self._agents().call("kubespace_log", limit=limit, node=node)

    def schedule(self, satellite: str) -> Dict[str, Any]:
        return self._agents().call("kubespace_schedule", node=self.cluster.node_name(satellite))

    def set_auto(self, enabled: bool) -> bool:
        return self._agents().call("kubespace_auto", enabled=enabled)

    def set_platform(self, platform: str) -> str:
        """What handovers do from now on: ``kubespace``, ``leave-rejoin`` or ``rejoin`` (the run's planes
        stay; ``single-plane`` is chosen by ``kubespace.runtime.platform`` at start)."""
        if self.platform == "single-plane" or platform == "single-plane":
            raise ConfigError("platform", platform, "single-plane runs one plane chosen at start",
                              "start another run with kubespace.runtime.platform: single-plane")
        self.platform = self._agents().call("kubespace_platform", platform=platform)
        return self.platform

    def wait_ready(self, timeout: float = 600.0) -> None:
        """Block until every daemon has computed its schedule."""
        deadline = time.monotonic() + timeout
        while not self._agents().call("kubespace_ready"):
            if time.monotonic() > deadline:
                raise LeonetError(f"the KubeSpace daemons did not compute their schedules in {timeout:g} s")
            time.sleep(0.2)

    def stats(self) -> Dict[str, Any]:
        return self._agents().call("kubespace_stats")

    def set_plane_faults(self, ground_station: str, hold_after_step: Dict[int, float]) -> Dict[str, Any]:
        """Fault injection: make a plane's HRController pause after the given steps (5, 6 or 7)."""
        p = self.cluster.planes[ground_station]
        url = f"https://{p.address}:{self.config.runtime.sync_port}"

        async def call() -> Dict[str, Any]:
            admin = ApiConnection.from_kubeconfig(p.kubeconfig, netns=p.netns)
            conn = ApiConnection(url, admin.ca_pem, cert_pem=admin.cert_pem, key_pem=admin.key_pem, netns=p.netns)
            try:
                return await conn.request("POST", "/kubespace/v1/faults",
                                          {"hold_after_step": {str(k): v for k, v in hold_after_step.items()}})
            finally:
                await conn.close()
                await admin.close()
        return asyncio.run(call())

    def bindings(self) -> Dict[str, Dict[str, Any]]:
        """Per plane: nodes by binding state, handovers in flight (see :func:`.inspect.bindings`)."""
        from .inspect import bindings   # inspect imports this module
        return bindings({g: dataclasses.asdict(p) for g, p in self.cluster.planes.items()})

    def cli_commands(self) -> Dict[str, Any]:
        """The Mininet CLI's ``bindings [NODE]``."""
        def bindings_cmd(line: str) -> str:
            from .inspect import node_bindings, status_rows
            b = self.bindings()
            node = line.strip()
            if node:
                name = self.cluster.node_names.get(node, node)
                states = node_bindings(b, name)
                return "".join(f"  {plane:<20} {state}\n" for plane, state in states.items()) \
                    or f"{node}: no plane knows it\n"
            return "".join(f"  {r['plane']:<20} bound {r['bound']:>5}  binding {r['binding']:>3}  releasing "
                           f"{r['releasing']:>3}  released {r['released']:>5}  in flight: {r['in_flight']}\n"
                           for r in status_rows(b))
        bindings_cmd.__doc__ = "bindings [NODE]: per control plane, the nodes it owns and the handovers in flight"
        return {"bindings": bindings_cmd}

    @classmethod
    def of(cls, run: "EmulationRun") -> "KubeSpaceRuntime":
        for s in getattr(run, "services", []):
            if isinstance(s, cls):
                return s
        raise LeonetError("this run has no KubeSpace runtime: set `kubespace: {runtime: {enabled: true}}`")


def runtime_for(run: "EmulationRun") -> Optional[KubeSpaceRuntime]:
    """The run's KubeSpace runtime if its scenario enables it (validated now), else None."""
    if "kubespace" not in run.scenario.sections:
        return None
    config = kubespace_config(run.scenario)
    return KubeSpaceRuntime(run, config) if config.runtime.enabled else None
