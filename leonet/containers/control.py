"""The running emulation's control endpoint: HTTP/JSON on a unix socket
(``/run/leonet/control.sock``, root only), used by `leonet fault`, `leonet limits` and
`leonet workload` from other shells.

=======  ===============================  ===============================================
method   path                             body / answer
=======  ===============================  ===============================================
GET      /faults                          ``{"events": [FaultEvent, ...]}``
POST     /faults                          ``{"action": "kill|restart|pause|resume", "node": N}``
                                          or ``{"action": "fail-link|restore-link", "a": A, "b": B}``
                                          or ``{"action": "degrade-link", "a", "b", "extra_delay_ms",
                                          "extra_loss_percent"}`` -> the FaultEvent
GET      /suspended                       ``{"bounding_box": [names], "faults": [names]}``
POST     /nodes/{node}/limits             ``{"cpus": 0.5, "memory_mb": 128}`` (either) -> event
GET      /workloads[?node=N]              ``{"containers": [...]}``
POST     /nodes/{node}/workloads          ``{"image", "command", "name", "cpus", "memory_mb", "env"}``
DELETE   /nodes/{node}/workloads/{name}
=======  ===============================  ===============================================

Errors answer 400 with ``{"error": "..."}``.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from aiohttp import web

from ..emulation import runstate
from ..errors import LeonetError

if TYPE_CHECKING:
    from .extensions import RunExtensions

SOCKET_PATH = runstate.STATE_DIR / "control.sock"


class ControlServer:
    def __init__(self, ext: "RunExtensions", path: Path = SOCKET_PATH):
        self.ext = ext
        self.path = path
        self._loop = asyncio.new_event_loop()
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None

    def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/faults", self._faults), web.post("/faults", self._inject),
                        web.get("/suspended", self._suspended),
                        web.post("/nodes/{node}/limits", self._limits),
                        web.get("/workloads", self._workloads),
                        web.post("/nodes/{node}/workloads", self._add_workload),
                        web.delete("/nodes/{node}/workloads/{name}", self._remove_workload)])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        self._thread = threading.Thread(target=self._loop.run_forever, name="leonet-control", daemon=True)
        self._thread.start()

        async def serve() -> None:
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.UnixSite(self._runner, str(self.path)).start()
        asyncio.run_coroutine_threadsafe(serve(), self._loop).result(timeout=30)
        os.chmod(self.path, 0o600)

    def close(self) -> None:
        if self._thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop.close()
        self.path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ handlers
    async def _call(self, fn: Callable[[], Any]) -> web.Response:
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, fn)
        except (LeonetError, ValueError, KeyError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except Exception as exc:  # Docker API errors and the like: report, keep serving
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)
        return web.json_response(result)

    @staticmethod
    async def _body(request: web.Request) -> Dict[str, Any]:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise web.HTTPBadRequest(text='{"error": "the body must be JSON"}', content_type="application/json")
        return body if isinstance(body, dict) else {}

    async def _faults(self, request: web.Request) -> web.Response:
        return await self._call(lambda: {"events": [e.to_dict() for e in self.ext.faults.events]})

    async def _inject(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return await self._call(lambda: self.ext.inject(body).to_dict())

    async def _suspended(self, request: web.Request) -> web.Response:
        return await self._call(self.ext.suspended_names)

    async def _limits(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        node = request.match_info["node"]
        return await self._call(lambda: self.ext.set_limits(node, body.get("cpus"), body.get("memory_mb")).to_dict())

    async def _workloads(self, request: web.Request) -> web.Response:
        node = request.query.get("node")
        return await self._call(lambda: {"containers": self.ext.workloads(node)})

    async def _add_workload(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        node = request.match_info["node"]
        return await self._call(lambda: self.ext.add_workload(node, body))

    async def _remove_workload(self, request: web.Request) -> web.Response:
        node, name = request.match_info["node"], request.match_info["name"]
        return await self._call(lambda: self.ext.remove_workload(node, name))


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def request(method: str, path: str, body: Optional[Dict[str, Any]] = None, timeout: float = 300.0,
            socket_path: Path = SOCKET_PATH) -> Any:
    """Call the active run's control endpoint; raises :class:`LeonetError` on errors."""
    runstate.require_active_run()
    if not socket_path.exists():
        raise LeonetError(f"the active run has no control socket ({socket_path}); it may still be starting")
    conn = _UnixConnection(str(socket_path), timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = json.loads(response.read() or b"null")
    except (OSError, json.JSONDecodeError) as exc:
        raise LeonetError(f"talking to the active run ({socket_path}): {exc}") from None
    finally:
        conn.close()
    if response.status != 200:
        raise LeonetError((data or {}).get("error", f"HTTP {response.status}"))
    return data
