"""The Komet server of every satellite: a tinyFaaS-like function runtime and the
keygroup store, for many satellites in one process.

Each satellite gets two listening sockets opened *inside its network namespace* and
bound to its address: the management API on :8080 and function invocation on :8000
(tinyFaaS's ports). Requests therefore reach a satellite only over the emulated links,
as from a process running in it; its Redis servers and function instances are
processes in its namespace. One process serves all satellites because a Python
process per satellite would cost more than the emulation (shell 1 has 1,584).

Management API (JSON):

=========================================  ================================================
``GET /health``                            ``{"node": ...}``
``GET /status``                            keygroups, functions, the last events
``PUT /keygroups/{kg}``                    create the local replica: ``{"primary": "host:port"|null,
                                           "mutable": true, "expiry_s": 0}``; with a primary
                                           it receives the whole keygroup from it
``GET /keygroups/{kg}``                    role, primary, link, offsets, keys, memory
``POST /keygroups/{kg}/wait-synced``       ``{"timeout_s"}``: until the full copy is in
``POST /keygroups/{kg}/replicate``         ``{"primary": "host:port"|null}``: follow another primary
``POST /keygroups/{kg}/pause-writes``      hand-over 1, old primary: hold writes, answer the offset
``POST /keygroups/{kg}/promote``           hand-over 2, heir: ``{"offset"}``: once it has it, primary
``POST /keygroups/{kg}/unpause``           hand-over 3, old primary (now following the heir)
``DELETE /keygroups/{kg}``                 drop the replica (server stopped, data deleted)
``POST /keygroups/{kg}/checkpoint``        stop-copy-restart baseline: save to a file, stop the server
``GET /keygroups/{kg}/snapshot``           that file; ``PUT /keygroups/{kg}`` with
                                           ``{"restore_from": URL}`` downloads it and starts from it
``PUT /functions/{name}``                  ``{"files": {"fn.py": source}, "threads": 8, "env": {},
                                           "keygroups": [kg]}``: deploy, answers ``cold_start_s``;
                                           the function also sees ``KOMET_NODE`` and
                                           ``KOMET_NODE_ADDRESS`` (its own satellite)
``DELETE /functions/{name}``               remove the function
``GET /events?since=N``                    crashes and restarts of function instances
=========================================  ================================================

Invocation: ``POST /{name}`` (or ``GET`` with a body, as the paper's CDN client) on
:8000; the answer is the function's return value.

    python -m apps.komet.nodehost --nodes nodes.json [--state-dir DIR]

``nodes.json``: ``[{"name": "s0p0n3", "netns": "ln-s0p0n3", "address": "10.64.0.3"}, ...]``
(``"netns": ""``: this process's namespace, e.g. 127.0.0.x addresses for tests).
The process prints ``ready`` once every socket listens.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from aiohttp import web

from . import nsproc
from .runtime import FunctionInstance
from .store import KeygroupReplica

MGMT_PORT = 8080
INVOKE_PORT = 8000
FIRST_KEYGROUP_PORT = 6400
log = logging.getLogger("komet.nodehost")


class Node:
    """One satellite's Komet server."""

    def __init__(self, name: str, netns: str, address: str, state_dir: Path):
        self.name, self.netns, self.address = name, netns, address
        self.dir = state_dir / name
        self.keygroups: Dict[str, KeygroupReplica] = {}
        self.functions: Dict[str, FunctionInstance] = {}
        self.events: List[Dict[str, Any]] = []
        self.lock = asyncio.Lock()

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append({"seq": len(self.events), "time": time.time(), "node": self.name, "event": kind, **fields})
        log.info("%s %s %s", self.name, kind, fields)

    def free_port(self) -> int:
        used = {kg.port for kg in self.keygroups.values()}
        port = FIRST_KEYGROUP_PORT
        while port in used:
            port += 1
        return port

    async def shutdown(self) -> None:
        for fn in list(self.functions.values()):
            await fn.stop()
        for kg in list(self.keygroups.values()):
            await kg.stop()
        self.functions.clear()
        self.keygroups.clear()


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def _body(request: web.Request) -> Dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body is not JSON"}), content_type="application/json")
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                 content_type="application/json")
    return data


class NodeHost:
    """All satellites' servers; requests are routed by the address they arrived at."""

    def __init__(self, nodes: List[Dict[str, str]], state_dir: Path):
        self.nodes: Dict[str, Node] = {n["address"]: Node(n["name"], n["netns"], n["address"], state_dir)
                                       for n in nodes}

    def node_of(self, request: web.Request) -> Node:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        node = self.nodes.get(sockname[0] if sockname else "")
        if node is None:
            raise web.HTTPNotFound(text="unknown node address")
        return node

    # ------------------------------------------------------------------ management
    def management_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_get("/health", self.health)
        r.add_get("/status", self.status)
        r.add_get("/events", self.get_events)
        r.add_put("/keygroups/{kg}", self.create_keygroup)
        r.add_get("/keygroups/{kg}", self.keygroup_status)
        r.add_post("/keygroups/{kg}/wait-synced", self.wait_synced)
        r.add_post("/keygroups/{kg}/replicate", self.replicate)
        r.add_post("/keygroups/{kg}/pause-writes", self.pause_writes)
        r.add_post("/keygroups/{kg}/promote", self.promote)
        r.add_post("/keygroups/{kg}/unpause", self.unpause)
        r.add_delete("/keygroups/{kg}", self.delete_keygroup)
        r.add_post("/keygroups/{kg}/checkpoint", self.checkpoint)
        r.add_get("/keygroups/{kg}/snapshot", self.snapshot)
        r.add_put("/functions/{name}", self.deploy_function)
        r.add_delete("/functions/{name}", self.delete_function)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"node": self.node_of(request).name})

    async def status(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        kgs = {}
        for name, kg in node.keygroups.items():
            try:
                kgs[name] = await kg.status()
            except Exception as exc:          # a dead server is reported, not hidden
                kgs[name] = {"keygroup": name, "alive": False, "error": str(exc)}
        return web.json_response({"node": node.name, "address": node.address, "keygroups": kgs,
                                  "functions": {n: f.status() for n, f in node.functions.items()},
                                  "events": node.events[-50:]})

    async def get_events(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        since = int(request.query.get("since", "0"))
        return web.json_response(node.events[since:])

    def _kg(self, node: Node, request: web.Request) -> KeygroupReplica:
        kg = node.keygroups.get(request.match_info["kg"])
        if kg is None:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no keygroup {request.match_info['kg']} on {node.name}"}),
                                   content_type="application/json")
        return kg

    async def create_keygroup(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        name = request.match_info["kg"]
        body = await _body(request)
        async with node.lock:
            if name in node.keygroups:
                return _error(409, f"keygroup {name} is already on {node.name}",
                              fix="DELETE it first, or POST .../replicate to change its primary")
            kg = KeygroupReplica(name, node.netns, node.address, node.free_port(), node.dir / "kg" / name,
                                 bool(body.get("mutable", True)), int(body.get("expiry_s", 0)))
            node.keygroups[name] = kg
            transfer_s = 0.0
            try:
                snapshot = None
                if body.get("restore_from"):                  # the stop-copy-restart baseline
                    snapshot, transfer_s = await fetch_snapshot(node, str(body["restore_from"]))
                started = await kg.start(body.get("primary"), timeout_s=600 if snapshot else 10, snapshot=snapshot)
            except Exception as exc:
                node.keygroups.pop(name, None)
                await kg.stop()
                return _error(500, str(exc))
        return web.json_response({"keygroup": name, "address": kg.tcp, "started_s": started,
                                  "transfer_s": transfer_s, "primary": body.get("primary")})

    async def checkpoint(self, request: web.Request) -> web.Response:
        """Write the keygroup to a file and stop its server (it stays listed, unavailable,
        until deleted); the file is served at ``GET .../snapshot``."""
        node = self.node_of(request)
        async with node.lock:
            kg = self._kg(node, request)
            path, seconds = await kg.checkpoint()
        return web.json_response({"checkpoint_s": seconds, "bytes": path.stat().st_size})

    async def snapshot(self, request: web.Request) -> web.StreamResponse:
        path = self._kg(self.node_of(request), request).folder / "dump.rdb"
        if not path.exists():
            return _error(404, "no checkpoint of this keygroup", fix="POST .../checkpoint first")
        return web.FileResponse(path)

    async def keygroup_status(self, request: web.Request) -> web.Response:
        return web.json_response(await self._kg(self.node_of(request), request).status())

    async def wait_synced(self, request: web.Request) -> web.Response:
        kg = self._kg(self.node_of(request), request)
        body = await _body(request)
        synced, seconds, st = await kg.wait_synced(float(body.get("timeout_s", 30)))
        return web.json_response({"synced": synced, "seconds": seconds, "status": st}, status=200 if synced else 504)

    async def replicate(self, request: web.Request) -> web.Response:
        kg = self._kg(self.node_of(request), request)
        body = await _body(request)
        await kg.replicate_from(body.get("primary"))
        return web.json_response(await kg.status())

    async def pause_writes(self, request: web.Request) -> web.Response:
        kg = self._kg(self.node_of(request), request)
        body = await _body(request)
        return web.json_response({"offset": await kg.pause_writes(float(body.get("timeout_s", 10)))})

    async def promote(self, request: web.Request) -> web.Response:
        kg = self._kg(self.node_of(request), request)
        body = await _body(request)
        if "offset" not in body:
            return _error(400, "give the offset the old primary answered", fix='{"offset": 1234}')
        try:
            seconds = await kg.promote(int(body["offset"]), float(body.get("timeout_s", 10)))
        except RuntimeError as exc:
            return _error(409, str(exc))
        return web.json_response({"seconds": seconds})

    async def unpause(self, request: web.Request) -> web.Response:
        await self._kg(self.node_of(request), request).unpause()
        return web.json_response({"unpaused": True})

    async def delete_keygroup(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        async with node.lock:
            kg = self._kg(node, request)
            users = [f.name for f in node.functions.values() if kg.keygroup in f.keygroups]
            if users:
                return _error(409, f"functions {', '.join(users)} still use keygroup {kg.keygroup}",
                              fix="delete them first")
            node.keygroups.pop(kg.keygroup)
            await kg.stop()
        return web.json_response({"deleted": kg.keygroup})

    async def deploy_function(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        name = request.match_info["name"]
        body = await _body(request)
        files = body.get("files")
        if not isinstance(files, dict) or "fn.py" not in files:
            return _error(400, "a function needs its files, with fn.py", fix='{"files": {"fn.py": "def fn(inp): ..."}}')
        wanted = list(body.get("keygroups", []))
        missing = [k for k in wanted if k not in node.keygroups]
        if missing:
            return _error(409, f"keygroups {', '.join(missing)} are not on {node.name}", fix="create them first")
        async with node.lock:
            if name in node.functions:
                await node.functions.pop(name).stop()
            fn = FunctionInstance(name, node.netns, node.dir / "fn" / name, files, int(body.get("threads", 8)),
                                  {"KOMET_NODE": node.name, "KOMET_NODE_ADDRESS": node.address,
                                   **{str(k): str(v) for k, v in (body.get("env") or {}).items()}},
                                  {k: node.keygroups[k].spec() for k in wanted},
                                  lambda kind, **f: node.event(kind, **f))
            try:
                cold = await fn.start()
            except Exception as exc:
                await fn.stop()
                return _error(500, str(exc))
            node.functions[name] = fn
        return web.json_response({"function": name, "cold_start_s": cold})

    async def delete_function(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        async with node.lock:
            fn = node.functions.pop(request.match_info["name"], None)
            if fn is None:
                return _error(404, f"no function {request.match_info['name']} on {node.name}")
            await fn.stop()
        return web.json_response({"deleted": fn.name})

    # ------------------------------------------------------------------ invocation
    def invoke_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{name}", self.invoke)
        return app

    async def invoke(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        fn = node.functions.get(request.match_info["name"])
        if fn is None:
            return _error(404, f"no function {request.match_info['name']} on {node.name}")
        status, body, ctype = await fn.invoke(await request.read())
        return web.Response(status=status, body=body, content_type=ctype or "text/plain")

    async def shutdown(self) -> None:
        await asyncio.gather(*(n.shutdown() for n in self.nodes.values()), return_exceptions=True)


async def fetch_snapshot(node: Node, url: str) -> "tuple[Path, float]":
    """Download a checkpoint from another satellite, from inside this satellite's
    namespace (over the emulated links). (file, seconds)."""
    node.dir.mkdir(parents=True, exist_ok=True)
    target = node.dir / f"incoming-{time.monotonic_ns()}.rdb"
    t0 = time.perf_counter()
    proc = await nsproc.spawn(node.netns, ["curl", "-sSf", "--max-time", "600", "-o", str(target), url],
                              stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the checkpoint did not arrive from {url}: {err.decode(errors='replace').strip()}")
    return target, time.perf_counter() - t0


def listening_socket(netns: str, address: str, port: int) -> socket.socket:
    """A TCP socket listening on ``address:port`` inside namespace ``netns`` (empty:
    this process's own, e.g. loopback addresses in the platform's component tests)."""
    if netns:
        from leonet.emulation.netns import entered

        with entered(netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def serve(nodes: List[Dict[str, str]], state_dir: Path) -> None:
    host = NodeHost(nodes, state_dir)
    runners = []
    for app, port in ((host.management_app(), MGMT_PORT), (host.invoke_app(), INVOKE_PORT)):
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        for n in nodes:
            await web.SockSite(runner, listening_socket(n["netns"], n["address"], port)).start()
        runners.append(runner)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await host.shutdown()
    for runner in runners:
        await runner.cleanup()


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description="Komet servers of many satellites (run by leonet.komet.platform)")
    p.add_argument("--nodes", required=True, help="JSON file: [{name, netns, address}, ...]")
    p.add_argument("--state-dir", default="/var/tmp/leonet-komet")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    nodes = json.loads(Path(args.nodes).read_text())
    asyncio.run(serve(nodes, Path(args.state_dir)))


if __name__ == "__main__":
    main()
