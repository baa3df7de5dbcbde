"""The plane-to-plane channel: how one control plane hands a node and its pods to another.

Each ground station's control plane serves it beside its API server (HTTPS on ``sync_port``, default
6444, on the station's address, so every transfer crosses the emulated network from station to station
through the satellites). Both ends authenticate with the shared cluster CA: the server presents the
plane's serving certificate, and a client must present a certificate of the CA whose subject is
``CN=system:kubespace:plane:<name>, O=kubespace:planes`` (a plane issues its own at start, from the CA
it holds). ``system:masters`` clients (the admin kubeconfig) may only use the fault-injection endpoint.

Endpoints (JSON; errors are Kubernetes ``Status`` objects):

* ``POST /kubespace/v1/transfers``: ``{handover, source, node, pods, lease, namespaces}`` -> persisted
  as ``Binding`` (node) and as they are (pods, lease), then ``{persistedTime, resourceVersion}``; 409
  when the node is Bound or Releasing here or a pod's name is taken by another pod;
* ``POST /kubespace/v1/aborts``: ``{handover, node}`` -> ``{result: aborted | bound | unknown}``;
* ``GET /kubespace/v1/nodes/<node>`` -> ``{state, handover}`` (``state`` null when unknown here);
* ``POST /kubespace/v1/faults``: ``{hold_after_step: {step: seconds}}`` (admin only): make the
  HRController pause after a step, to inject faults in the middle of a handover in tests.
"""
from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Protocol

from aiohttp import web

from ...controlplane.auth import User, user_from_peercert
from ...controlplane.errors import ApiError
from ...controlplane.netns import netns as get_netns

log = logging.getLogger("leonet.kubespace.sync")

PLANE_USER_PREFIX = "system:kubespace:plane:"
PLANE_GROUP = "kubespace:planes"
PREFIX = "/kubespace/v1"


def plane_user(name: str) -> str:
    return PLANE_USER_PREFIX + name


class TransferHandler(Protocol):
    """What the server calls (the HRController in its target role)."""

    def receive_transfer(self, payload: Dict[str, Any], peer: str) -> Dict[str, Any]: ...
    def receive_abort(self, handover: str, node: str, peer: str) -> Dict[str, Any]: ...
    def node_state(self, node: str) -> Dict[str, Any]: ...
    def set_faults(self, faults: Dict[str, Any]) -> Dict[str, Any]: ...


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(obj, separators=(",", ":")).encode(), status=status,
                        content_type="application/json")


class SyncServer:
    """The channel's server side, in the control-plane process (sockets in ``netns`` if given)."""

    def __init__(self, handler: TransferHandler, host: str, port: int, netns: Optional[str],
                 cert_path: Path, key_path: Path, ca_pem: bytes):
        self.handler = handler
        self.host, self.port, self.netns = host, port, netns
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_path, key_path)
        ctx.load_verify_locations(cadata=ca_pem.decode())
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.set_alpn_protocols(["http/1.1"])
        self.ssl_context = ctx
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_post(PREFIX + "/transfers", self._guard(self._transfer, planes_only=True))
        self.app.router.add_post(PREFIX + "/aborts", self._guard(self._abort, planes_only=True))
        self.app.router.add_get(PREFIX + "/nodes/{node}", self._guard(self._node, planes_only=True))
        self.app.router.add_post(PREFIX + "/faults", self._guard(self._faults, planes_only=False))
        self._runner: Optional[web.AppRunner] = None
        self.stats = {"transfers": 0, "aborts": 0, "queries": 0, "rejected": 0}

    async def start(self) -> "SyncServer":
        sock = get_netns(self.netns).listening_socket(self.host, self.port)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self.ssl_context).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    def _peer(request: web.Request) -> Optional[User]:
        transport = request.transport
        ssl_obj = transport.get_extra_info("ssl_object") if transport is not None else None
        return user_from_peercert(ssl_obj.getpeercert()) if ssl_obj is not None else None

    def _guard(self, fn: Callable[[web.Request, str], Awaitable[web.Response]], planes_only: bool):
        async def handle(request: web.Request) -> web.Response:
            user = self._peer(request)
            plane = user is not None and user.name.startswith(PLANE_USER_PREFIX) and PLANE_GROUP in user.groups
            admin = user is not None and "system:masters" in user.groups
            if not plane and (planes_only or not admin):
                self.stats["rejected"] += 1
                who = user.name if user else "anonymous"
                return _json(ApiError(403, f"{who} may not use the plane-to-plane channel here", "Forbidden")
                             .status(), 403)
            try:
                return await fn(request, user.name[len(PLANE_USER_PREFIX):] if plane else user.name)
            except ApiError as e:
                return _json(e.status(), e.code)
            except (ValueError, KeyError, TypeError) as e:
                return _json(ApiError(400, f"bad request: {e!r}", "BadRequest").status(), 400)
        return handle

    async def _transfer(self, request: web.Request, peer: str) -> web.Response:
        payload = await request.json()
        self.stats["transfers"] += 1
        return _json(self.handler.receive_transfer(payload, peer))

    async def _abort(self, request: web.Request, peer: str) -> web.Response:
        body = await request.json()
        self.stats["aborts"] += 1
        return _json(self.handler.receive_abort(str(body["handover"]), str(body["node"]), peer))

    async def _node(self, request: web.Request, peer: str) -> web.Response:
        self.stats["queries"] += 1
        return _json(self.handler.node_state(request.match_info["node"]))

    async def _faults(self, request: web.Request, peer: str) -> web.Response:
        return _json(self.handler.set_faults(await request.json()))
