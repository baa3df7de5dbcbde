"""Control planes on ground stations and node agents on satellites of a live emulation run.

    run = EmulationRun.from_scenario("scenario-with-controlplane.yaml", backend="nfqueue")
    with run:
        run.start()                         # the run starts its services, this cluster among them
        cluster = ControlPlaneCluster.of(run)
        cluster.planes["Berlin"].url        # https://<Berlin's address>:6443
        cluster.swap("s0p3n2", "Madrid")    # KubeSpace's hot swap, pods keep running

Each control plane is a process *inside* its ground station's namespace, listening on the station's
address; the agents live in one extra process (or on a loop thread of the run), each agent's sockets in
its satellite's namespace. So every API message (registration, leases, status, pod watches, the
control plane's answers) crosses the emulated links with their delay and loss.

All control planes share one CA, so a satellite's client certificate is valid on every plane and a
hot swap needs no new credentials. State, CA, kubeconfigs and logs live under
``/run/leonet/controlplanes/<ground station host>/`` and are removed when the run stops.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import numpy as np

from ..errors import ConfigError, LeonetError
from . import netns as nsmod
from .agent_host import InlineAgents
from .agents_process import AgentsProcess
from .launch_config import ControlPlaneLaunchConfig, controlplane_config
from .pki import ClusterCA, cert_pem, key_pem, write_private
from .server import ControlPlaneProcess

if TYPE_CHECKING:
    from ..emulation.run import EmulationRun
    from .agent import ApiConnection

log = logging.getLogger("leonet.controlplane.cluster")

STATE_DIR = Path("/run/leonet/controlplanes")
INDEX_NAME = "index.json"
SATELLITE_LABEL = "leonet.io/kind"


def k8s_name(name: str) -> str:
    """A DNS-1123 subdomain for a node or ground-station name (lower case, ``[a-z0-9.-]``)."""
    out = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    return out[:253] or "node"


@dataclass(frozen=True)
class PlaneInfo:
    """One ground station's control plane, as recorded in ``index.json``."""

    name: str          #: ground-station name in the scenario
    host: str          #: its host name (``leonet nodes``)
    netns: str         #: its network namespace
    address: str
    url: str
    kubeconfig: str    #: admin kubeconfig (reachable from inside ``netns``)
    data_dir: str
    pid: Optional[int]


class ClusterExtension:
    """Hooks through which a higher layer (KubeSpace's runtime) shapes the cluster before it starts.
    Subclass and override what you need; add the object to :attr:`ControlPlaneCluster.extensions`
    before the run starts."""

    def initial_assignment(self, cluster: "ControlPlaneCluster") -> Dict[str, str]:
        """Satellite -> ground station of its first control plane, for the satellites this extension
        decides (overrides ``agents.initial``; ``agents.assign`` entries still win)."""
        return {}

    def plane_args(self, cluster: "ControlPlaneCluster", ground_station: str, data_dir: Path) -> List[str]:
        """Extra command-line arguments of the ground station's control-plane process (e.g. ``--plugin``);
        ``data_dir`` exists and holds the shared CA when this is called."""
        return []

    def agent_spec(self, cluster: "ControlPlaneCluster", satellite: str, spec: Dict[str, Any]) -> None:
        """Change a satellite's agent spec (see :mod:`.agent_host`'s ``add``) before it is sent."""


class ControlPlaneCluster:
    """The ``controlplane:`` section of a scenario, as a service of an :class:`EmulationRun`:
    created (and validated) with the run, started after the network is up, stopped before teardown."""

    def __init__(self, run: "EmulationRun", config: Optional[ControlPlaneLaunchConfig] = None,
                 state_dir: Path = STATE_DIR):
        nodes = run.engine.nodes
        self.satellite_names = list(nodes.names[:nodes.num_satellites])
        self.station_names = list(nodes.names[nodes.num_satellites:])
        self.config = config or controlplane_config(run.scenario)
        if run.config.routes != "all":
            raise ConfigError("emulation.routes", run.config.routes,
                              "control planes need routes from ground stations to satellites",
                              "set `emulation: {routes: all}` (the default)")
        if self.config.backend == "k3s":
            from .k3s import k3s_available
            if not k3s_available():
                raise ConfigError("controlplane.backend", "k3s", "the k3s binary is not installed",
                                  "install k3s, or use `backend: embedded` (the default)")
        self.state_dir = Path(state_dir)
        self.run: Optional["EmulationRun"] = None
        self.planes: Dict[str, PlaneInfo] = {}
        self.assignment: Dict[str, str] = {}          #: satellite -> ground station, at start
        self.node_names: Dict[str, str] = {}          #: satellite -> Kubernetes node name
        self.agents: Union[AgentsProcess, InlineAgents, None] = None
        self.registration: Optional[Dict[str, Any]] = None
        self._processes: List[Any] = []
        self._plane_procs: Dict[str, ControlPlaneProcess] = {}   #: ground station -> its plane's process
        self._plane_args: Dict[str, List[str]] = {}
        #: hooks of higher layers (see :class:`ClusterExtension`), consulted at start
        self.extensions: List[ClusterExtension] = []
        self._k3s_agents: List[Any] = []
        self._ca: Optional[ClusterCA] = None
        self._watcher: Optional[threading.Thread] = None
        #: seconds spent starting the control planes and handing the agents to their process
        self.timings: Dict[str, float] = {}

    @classmethod
    def of(cls, run: "EmulationRun") -> "ControlPlaneCluster":
        """The cluster a run started for its scenario's ``controlplane:`` section."""
        for s in getattr(run, "services", []):
            if isinstance(s, cls):
                return s
        raise LeonetError("this run has no control planes: add a `controlplane:` section to the scenario")

    # ------------------------------------------------------------------ lifecycle
    def start(self, run: "EmulationRun") -> "ControlPlaneCluster":
        """Start the control planes, then the agents (which register in the background; see
        :meth:`wait_registered`). Needs the run's network to be up."""
        assert run.network is not None and run.network.snapshot is not None, "start the run first"
        self.run = run
        t0 = time.monotonic()
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)   # a crashed run's leftovers: this run holds the run lock
        self.state_dir.mkdir(parents=True, mode=0o700)
        self.assignment = self.initial_assignment()
        self.node_names = self._unique_node_names(list(self.assignment))
        if self.config.backend == "k3s":
            self._start_k3s()
        else:
            self._start_planes()
            self._write_index()
            self.timings["planes_s"] = round(time.monotonic() - t0, 2)
            self._start_agents()
            self.timings["agents_handed_over_s"] = round(time.monotonic() - t0 - self.timings["planes_s"], 2)
        for gs, p in self.planes.items():
            log.info("control plane on %s: %s (kubeconfig %s; `leonet kubectl %s -- get nodes`)", gs, p.url,
                     p.kubeconfig, p.host)
        log.info("control planes up in %.1f s; %d agents registering", time.monotonic() - t0,
                 len(self.assignment))
        self.report_registration()
        return self

    def stop(self) -> None:
        """Stop the agents (and their pods), then the control planes; remove the state directory."""
        if self.agents is not None:
            try:
                self.agents.close()
            except Exception as exc:  # keep tearing down
                log.warning("stopping the agents: %s", exc)
            self.agents = None
        for a in self._k3s_agents:
            a.stop()
        self._k3s_agents = []
        for p in self._processes:
            p.stop()
        self._processes = []
        if self.run is not None and self.run.network is not None:
            nsmod.forget(n.netns for n in self.run.network.nodes)
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self.planes = {}
        self._plane_procs = {}

    # ------------------------------------------------------------------ placement
    def initial_assignment(self) -> Dict[str, str]:
        """Satellite -> ground station of its first control plane: ``assign`` entries, else by
        ``initial``: nearest by path delay in the current snapshot (straight-line distance when no
        path exists), round-robin, or one named station."""
        cfg, run = self.config, self.run
        sats = list(cfg.agents.satellites)
        planes = list(cfg.ground_stations)
        out: Dict[str, str] = {}
        if cfg.agents.initial == "round-robin":
            out = {s: planes[i % len(planes)] for i, s in enumerate(sats)}
        elif cfg.agents.initial == "nearest":
            assert run is not None and run.network is not None
            snap = run.network.snapshot
            nodes = run.engine.nodes
            gs_idx = [nodes.index(g) for g in planes]
            sat_idx = np.array([nodes.index(s) for s in sats], dtype=int)
            if len(sat_idx):
                delay = snap.routes(gs_idx).delay_ms[:, sat_idx]                    # (planes, sats)
                pos = snap.positions_km
                dist = np.linalg.norm(pos[sat_idx][None, :, :] - pos[gs_idx][:, None, :], axis=2)
                best = np.where(np.isfinite(delay).any(axis=0), np.argmin(delay, axis=0), np.argmin(dist, axis=0))
                out = {s: planes[int(b)] for s, b in zip(sats, best)}
        else:
            out = {s: cfg.agents.initial for s in sats}
        for ext in self.extensions:
            out.update({s: g for s, g in ext.initial_assignment(self).items() if s in out})
        out.update(cfg.agents.assign)
        return out

    def _unique_node_names(self, sats: List[str]) -> Dict[str, str]:
        out: Dict[str, str] = {}
        taken: set = set()
        for s in sats:
            base = k8s_name(self.run.node(s).host if self.run else s)
            name, k = base, 2
            while name in taken:
                name, k = f"{base}-{k}", k + 1
            taken.add(name)
            out[s] = name
        return out

    # ------------------------------------------------------------------ embedded backend
    def _start_planes(self) -> None:
        cfg, run = self.config, self.run
        assert run is not None
        self._ca = ClusterCA.create("leonet-constellation-ca")
        extra = ["--node-monitor-period", str(cfg.node_monitor_period),
                 "--node-monitor-grace-period", str(cfg.node_monitor_grace_period),
                 "--default-toleration-seconds", str(cfg.default_toleration_seconds),
                 "--orphan-pod-grace", str(cfg.orphan_pod_grace)]
        if not cfg.scheduler:
            extra.append("--no-scheduler")
        started: List[Tuple[str, Any, Path]] = []
        for gs in cfg.ground_stations:
            node = run.node(gs)
            data_dir = self.state_dir / node.host
            data_dir.mkdir(mode=0o700)
            write_private(data_dir / "ca.key", key_pem(self._ca.key))
            (data_dir / "ca.crt").write_bytes(cert_pem(self._ca.cert))
            self._plane_args[gs] = extra + [a for ext in self.extensions for a in ext.plane_args(self, gs, data_dir)]
            proc = self._plane_process(gs, data_dir).spawn()
            self._processes.append(proc)
            self._plane_procs[gs] = proc
            started.append((gs, proc, data_dir))
        for gs, proc, data_dir in started:   # they start in parallel; wait for each
            proc.wait_ready(60)
            self._record_plane(gs, proc, data_dir)

    def _plane_process(self, gs: str, data_dir: Path) -> ControlPlaneProcess:
        node = self.run.node(gs)
        return ControlPlaneProcess(data_dir, addr=node.address, port=self.config.port, netns=node.netns,
                                   name=k8s_name(node.host), extra_args=self._plane_args[gs], enter_netns=True,
                                   log_path=data_dir / "controlplane.log")

    def _record_plane(self, gs: str, proc: ControlPlaneProcess, data_dir: Path) -> None:
        node = self.run.node(gs)
        self.planes[gs] = PlaneInfo(gs, node.host, node.netns, node.address, proc.url, str(proc.kubeconfig),
                                    str(data_dir), proc.pid)

    def stop_plane(self, ground_station: str, kill: bool = True) -> None:
        """Stop one ground station's control plane (SIGKILL by default, as a crash; its state stays on
        disk for :meth:`start_plane`). Agents and clients of that plane then fail to reach it."""
        proc = self._plane_proc(ground_station)
        if proc.proc is not None and proc.proc.poll() is None:
            if kill:
                proc.proc.kill()
                proc.proc.wait()
            else:
                proc.stop()

    def start_plane(self, ground_station: str, timeout: float = 60.0) -> PlaneInfo:
        """Start a stopped control plane again from its state on disk (same address, CA and objects)."""
        old = self._plane_proc(ground_station)
        if old.proc is not None and old.proc.poll() is None:
            raise LeonetError(f"the control plane on {ground_station} is running")
        data_dir = Path(self.planes[ground_station].data_dir)
        proc = self._plane_process(ground_station, data_dir).spawn().wait_ready(timeout)
        self._processes[self._processes.index(old)] = proc
        self._plane_procs[ground_station] = proc
        self._record_plane(ground_station, proc, data_dir)
        self._write_index()
        return self.planes[ground_station]

    def _plane_proc(self, ground_station: str) -> ControlPlaneProcess:
        if ground_station not in self._plane_procs:
            raise ConfigError("ground station", ground_station, "hosts no control plane in this run",
                              "control planes: " + ", ".join(self.planes))
        return self._plane_procs[ground_station]

    def _write_index(self) -> None:
        index = {"run_pid": os.getpid(), "planes": {g: asdict(p) for g, p in self.planes.items()}}
        tmp = self.state_dir / (INDEX_NAME + ".tmp")
        tmp.write_text(json.dumps(index, indent=1))
        tmp.replace(self.state_dir / INDEX_NAME)

    def _agent_specs(self) -> List[Dict[str, Any]]:
        assert self.run is not None and self._ca is not None
        specs = []
        for sat, gs in self.assignment.items():
            node = self.run.node(sat)
            name = self.node_names[sat]
            cert, key = self._ca.issue_client(f"system:node:{name}", ["system:nodes"])
            labels = {SATELLITE_LABEL: "satellite", "leonet.io/node": k8s_name(node.host)}
            spec = {"name": name, "address": node.address, "netns": node.netns, "plane": gs,
                    "cert": cert.decode(), "key": key.decode(), "labels": labels}
            for ext in self.extensions:
                ext.agent_spec(self, sat, spec)
            specs.append(spec)
        return specs

    def _start_agents(self) -> None:
        a = self.config.agents
        if not self.assignment:
            return
        if a.process == "inline":
            self.agents = InlineAgents()
        else:
            self.agents = AgentsProcess(self.state_dir / "agents.log").start()
        config = {"lease_duration_seconds": a.lease_duration_seconds, "renew_interval": a.renew_interval,
                  "status_update_frequency": a.status_update_frequency, "pod_runtime": a.pod_runtime}
        assert self._ca is not None
        self.agents.call("init", planes={g: p.url for g, p in self.planes.items()},
                         ca=self._ca.pem.decode(), config=config, request_timeout=a.request_timeout,
                         register_concurrency=a.register_concurrency)
        self.agents.call("add", agents=self._agent_specs())

    # ------------------------------------------------------------------ k3s backend
    def _start_k3s(self) -> None:
        """``k3s server`` per ground station, ``k3s agent`` per satellite (one process each: a stock
        kubelet cannot share a process). No hot swap with this backend."""
        from .k3s import K3sAgent, K3sServer
        cfg, run = self.config, self.run
        assert run is not None
        for gs in cfg.ground_stations:
            node = run.node(gs)
            srv = K3sServer(self.state_dir / node.host, node.address, cfg.port, node.netns).start()
            self._processes.append(srv)
            kc = srv.kubeconfig.read_text().replace("https://127.0.0.1:", f"https://{node.address}:")
            write_private(srv.kubeconfig, kc.encode())
            self.planes[gs] = PlaneInfo(gs, node.host, node.netns, node.address, srv.url, str(srv.kubeconfig),
                                        str(srv.data_dir), srv.proc.pid if srv.proc else None)
        self._write_index()
        servers = {gs: srv for gs, srv in zip(cfg.ground_stations, self._processes)}
        for sat, gs in self.assignment.items():
            node = run.node(sat)
            self._k3s_agents.append(K3sAgent(self.node_names[sat], servers[gs].url, servers[gs].token,
                                             self.state_dir / "agents" / node.host, node.address,
                                             node.netns).start())

    # ------------------------------------------------------------------ operations
    def _require_agents(self) -> Union[AgentsProcess, InlineAgents]:
        if self.agents is None:
            raise LeonetError("no agents are running (none configured, or the k3s backend, which cannot hot-swap)")
        return self.agents

    def wait_registered(self, timeout: float = 600.0) -> Dict[str, Any]:
        """Block until every agent registered with its first control plane: {registered, seconds}."""
        if not self.assignment or self.agents is None:
            return {"registered": 0, "seconds": 0.0}
        self.registration = self.agents.call("wait_registered", reply_timeout=timeout + 5, timeout=timeout)
        return self.registration

    def report_registration(self) -> None:
        """Log when every agent has registered (from a background thread; for ``leonet run``)."""
        def wait() -> None:
            try:
                r = self.wait_registered()
                log.info("%d agents registered in %.1f s", r["registered"], r["seconds"])
            except Exception as exc:
                if self.agents is not None:   # not merely stopped meanwhile
                    log.warning("agents did not all register: %s", exc)
        if self.assignment and self.agents is not None:
            self._watcher = threading.Thread(target=wait, name="leonet-agents-registration", daemon=True)
            self._watcher.start()

    def swap(self, satellite: str, ground_station: str, deregister_old: bool = True,
             orphan_grace: Optional[float] = None) -> float:
        """Move a satellite's agent to another ground station's control plane (make before break; its
        pods keep running). Returns the seconds it took."""
        if ground_station not in self.planes:
            raise ConfigError("ground station", ground_station, "hosts no control plane in this run",
                              "control planes: " + ", ".join(self.planes))
        r = self._require_agents().call("swap", node=self.node_name(satellite), plane=ground_station,
                                        deregister_old=deregister_old, orphan_grace=orphan_grace)
        return float(r["seconds"])

    def post_status(self, satellite: str) -> Dict[str, Any]:
        """Make a satellite's agent post its node status now: {sent, done} (``time.monotonic()`` when
        the request left and when its answer came back, comparable across processes) and the
        ``resourceVersion`` the control plane gave the change."""
        return self._require_agents().call("post_status", node=self.node_name(satellite))

    def set_pressure(self, satellite: str, pressure: Optional[Dict[str, bool]]) -> Dict[str, Any]:
        """Put a satellite's node under pressure (e.g. ``{"MemoryPressure": True}``) or clear the
        override (None): its agent evicts a pod at once as the kubelet does, then posts the conditions;
        the control plane taints the node NoSchedule. {sent, done (monotonic), plane, evicted}."""
        return self._require_agents().call("set_pressure", node=self.node_name(satellite), pressure=pressure)

    def pod_pid(self, satellite: str, namespace: str, name: str) -> Optional[int]:
        return self._require_agents().call("pod_pid", node=self.node_name(satellite), namespace=namespace,
                                           name=name)

    def current_assignment(self) -> Dict[str, str]:
        """Satellite -> ground station its agent reports to now."""
        by_node = self._require_agents().call("assignment")
        return {sat: by_node[n] for sat, n in self.node_names.items() if n in by_node}

    def stats(self) -> Dict[str, Any]:
        """The agents' totals (lease renewals, status posts, errors), their process's RSS and CPU."""
        return self._require_agents().call("stats")

    def node_name(self, satellite: str) -> str:
        try:
            return self.node_names[satellite]
        except KeyError:
            raise ConfigError("satellite", satellite, "runs no agent in this run",
                              "list it under controlplane.agents.satellites") from None

    def connection(self, ground_station: str) -> "ApiConnection":
        """An admin :class:`ApiConnection` from inside the ground station's namespace (use it on an
        asyncio loop; close it when done)."""
        from .agent import ApiConnection
        p = self.planes[ground_station]
        return ApiConnection.from_kubeconfig(p.kubeconfig, netns=p.netns)


def active_planes() -> Dict[str, Dict[str, Any]]:
    """The control planes of the active run ({ground station: PlaneInfo fields}), or {} if none."""
    from ..emulation import runstate
    try:
        index = json.loads((STATE_DIR / INDEX_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if not runstate.pid_alive(int(index.get("run_pid", -1))):
        return {}   # a crashed run's leftovers
    return index["planes"]
