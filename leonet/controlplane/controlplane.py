"""A complete embedded control plane: API server + scheduler + node lifecycle + certificates, on one
asyncio loop, persisted in ``<data_dir>/state.db``.

    cp = ControlPlane("/tmp/gs1", host="10.0.0.1", port=6443, netns="gs1")
    await cp.start()
    cp.kubeconfig_path        # admin kubeconfig, written at start
    await cp.stop()

With ``netns`` (a path such as ``/proc/PID/ns/net`` or an ``ip netns`` name) the listening socket is
created inside that network namespace while the loop itself stays in the caller's namespace.
"""
from __future__ import annotations

import asyncio
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from aiohttp import web

from .apiserver.http import ApiRunner, ApiServer
from .apiserver.rest import Api
from .auth import TokenFile
from .controllers import CertificateController, EventGC, NodeLifecycleController, Scheduler
from .kubeconfig import kubeconfig_dict, write_kubeconfig
from .netns import netns as get_netns
from .pki import ClusterCA, new_token, write_private
from .storage import Store


@dataclass
class ControlPlaneOptions:
    """Tunables; the defaults are Kubernetes' own."""

    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    default_toleration_seconds: int = 300      # DefaultTolerationSeconds for not-ready/unreachable
    orphan_pod_grace: float = 20.0
    event_ttl: float = 3600.0
    bookmark_interval: float = 60.0
    watch_history: int = 10000
    scheduler: bool = True                     # False when an external scheduler takes all pods
    controllers: bool = True
    auto_approve_kubelet_csrs: bool = True
    extra_sans: Sequence[str] = field(default_factory=tuple)


class ControlPlane:
    """One Kubernetes-compatible control plane (what one ground station runs)."""

    def __init__(self, data_dir: Optional[Path] = None, host: str = "127.0.0.1", port: int = 0,
                 netns: Optional[str] = None, name: str = "leonet", advertise: Optional[str] = None,
                 options: Optional[ControlPlaneOptions] = None):
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="leonet-cp-"))
        self.host, self.port, self.netns, self.name = host, port, netns, name
        self.advertise = advertise or (host if host not in ("0.0.0.0", "::", "") else "127.0.0.1")
        self.options = options or ControlPlaneOptions()
        self.store: Optional[Store] = None
        self.api: Optional[Api] = None
        self.server: Optional[ApiServer] = None
        self.ca: Optional[ClusterCA] = None
        self.tokens: Optional[TokenFile] = None
        self.admin_token: str = ""
        self.scheduler: Optional[Scheduler] = None
        self.node_lifecycle: Optional[NodeLifecycleController] = None
        self.certificates: Optional[CertificateController] = None
        self._runner: Optional[web.AppRunner] = None
        self._tasks: List[asyncio.Task] = []
        self.ssl_context: Optional[ssl.SSLContext] = None

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> "ControlPlane":
        """Open (or create) the state, bind the HTTPS socket (in ``netns`` if given), start controllers,
        and write ``<data_dir>/kubeconfig``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ca = ClusterCA.load_or_create(self.data_dir)
        self.tokens = TokenFile(self.data_dir / "tokens.json")
        admin = [t for t, e in self.tokens.static.items() if e["user"] == "admin"]
        self.admin_token = admin[0] if admin else new_token()
        if not admin:
            self.tokens.add_static(self.admin_token, "admin", ["system:masters"])
        self.store = Store(self.data_dir / "state.db", self.options.watch_history)
        self.api = Api(self.store, toleration_seconds=self.options.default_toleration_seconds)

        sock = get_netns(self.netns).listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        crt, key = self.ca.issue_server([self.advertise, self.host, "127.0.0.1", "localhost", "kubernetes",
                                         "kubernetes.default", "kubernetes.default.svc", self.name,
                                         *self.options.extra_sans])
        (self.data_dir / "server.crt").write_bytes(crt)
        write_private(self.data_dir / "server.key", key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.data_dir / "server.crt", self.data_dir / "server.key")
        ctx.load_verify_locations(cadata=self.ca.pem.decode())
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        self.ssl_context = ctx

        self.server = ApiServer(self.api, self.tokens, f"{self.advertise}:{self.port}",
                                bookmark_interval=self.options.bookmark_interval)
        self._runner = ApiRunner(self.server.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=ctx)
        await site.start()
        self._start_controllers()
        self.write_kubeconfig()
        return self

    def _start_controllers(self) -> None:
        o = self.options
        loop = asyncio.get_running_loop()
        if o.controllers and o.scheduler:
            self.scheduler = Scheduler(self.api)
            self.store.listeners.append(self.scheduler.on_event)
            self._tasks.append(loop.create_task(self.scheduler.run()))
        if o.controllers:
            self.node_lifecycle = NodeLifecycleController(self.api, o.node_monitor_period,
                                                          o.node_monitor_grace_period, o.orphan_pod_grace)
            self.certificates = CertificateController(self.api, self.ca, o.auto_approve_kubelet_csrs)
            for c in (self.node_lifecycle, self.certificates):
                self.store.listeners.append(c.on_event)
                self._tasks.append(loop.create_task(c.run()))
            self._tasks.append(loop.create_task(EventGC(self.api, o.event_ttl).run()))

    async def stop(self) -> None:
        """Stop serving and close the database (state stays in ``data_dir``)."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.store:
            self.store.hub.close_all()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
        if self.store:
            self.store.close()
            self.store = None

    async def __aenter__(self) -> "ControlPlane":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # --- access ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.advertise}]" if ":" in self.advertise else self.advertise
        return f"https://{host}:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        return self.ca.pem

    @property
    def kubeconfig_path(self) -> Path:
        return self.data_dir / "kubeconfig"

    def write_kubeconfig(self, path: Optional[Path] = None, user: str = "admin",
                         groups: Sequence[str] = ("system:masters",)) -> Path:
        """A kubeconfig with a client certificate for ``user`` (default: cluster admin)."""
        cert, key = self.ca.issue_client(user, groups)
        cfg = kubeconfig_dict(self.name, self.url, self.ca.pem, user, cert, key)
        return write_kubeconfig(Path(path) if path else self.kubeconfig_path, cfg)

    def client_credentials(self, user: str, groups: Sequence[str] = ()) -> Tuple[bytes, bytes]:
        """(cert PEM, key PEM) signed by the cluster CA."""
        return self.ca.issue_client(user, groups)

    def node_credentials(self, node: str) -> Tuple[bytes, bytes]:
        """A kubelet-style client certificate: ``system:node:<node>`` in group ``system:nodes``."""
        return self.ca.issue_client(f"system:node:{node}", ["system:nodes"])

    def create_token(self, user: str, groups: Sequence[str] = ()) -> str:
        token = new_token()
        self.tokens.add_static(token, user, list(groups))
        return token

    def create_bootstrap_token(self, ttl: Optional[float] = 24 * 3600) -> str:
        """A bootstrap token (``abcdef.0123456789abcdef``) for the TLS bootstrap of a node agent."""
        return self.tokens.add_bootstrap(ttl=ttl)
