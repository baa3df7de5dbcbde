"""The info API (HTTP, port 80) and DNS (UDP, port 53) at 169.254.169.254 in every node.

The server runs in the emulation's own process (one asyncio loop in a thread) with its
two sockets in the management namespace, which reaches every node over a veth of its
own (see :mod:`.plumbing`). The caller of ``/self`` is named by the request's source
address. Nothing is bound inside the nodes, so their software may use ports 80 and 53.
"""
from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import threading
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from aiohttp import web

from ..emulation import netns as nsmod
from ..emulation.addressing import node_of_address
from ..emulation.nodes import EmulatedNode
from . import dns, plumbing
from .model import INFO_ADDRESS, InfoModel

log = logging.getLogger("leonet.infoapi")

HTTP_PORT = 80
DNS_PORT = 53
#: where ``ip netns exec`` looks for a namespace's resolv.conf
NETNS_ETC = Path("/etc/netns")


def resolv_conf() -> str:
    return f"# leonet: the info API's DNS (docs/infoapi.md)\nnameserver {INFO_ADDRESS}\nsearch leonet\n"


def _open_sockets() -> Tuple[socket.socket, socket.socket]:
    """The listening TCP socket and the UDP socket, in the calling thread's namespace."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((INFO_ADDRESS, HTTP_PORT))
    tcp.listen(1024)
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((INFO_ADDRESS, DNS_PORT))
    udp.setblocking(False)
    return tcp, udp


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, model: InfoModel):
        self.model = model
        self.transport: Optional[asyncio.DatagramTransport] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Tuple[str, int]) -> None:
        reply = dns.answer(data, self.model.names, INFO_ADDRESS, self.model.records)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class InfoServer:
    """Serves :class:`InfoModel` to every node (see the module docstring)."""

    def __init__(self, model: InfoModel):
        self.model = model
        self._loop = asyncio.new_event_loop()
        self._thread: Optional[threading.Thread] = None
        self._servers: List[Any] = []
        self._sockets: List[socket.socket] = []
        self._resolv_dirs: List[Path] = []
        self._connected = False
        self.num_nodes = 0
        self.requests = 0

    def start(self, nodes: Sequence[EmulatedNode], resolv_for: Sequence[EmulatedNode] = ()) -> None:
        """Connect every node to the management namespace and start serving.
        ``resolv_for``: nodes that get ``/etc/netns/<ns>/resolv.conf`` (bare namespaces;
        Docker nodes get ``--dns``)."""
        self.num_nodes = len(nodes)
        worker = nsmod.NetnsThread()
        try:
            plumbing.connect_nodes(nodes, worker)
            self._connected = True
            tcp, udp = worker.run(plumbing.MGMT_NETNS, _open_sockets)
        finally:
            worker.close()
        self._sockets += [tcp, udp]
        for n in resolv_for:
            folder = NETNS_ETC / n.netns
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "resolv.conf").write_text(resolv_conf())
            self._resolv_dirs.append(folder)
        self._thread = threading.Thread(target=self._loop.run_forever, name="leonet-infoapi", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(tcp, udp), self._loop).result()

    async def _serve(self, tcp: socket.socket, udp: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._servers.append(await loop.create_server(web.Server(self._handle, access_log=None), sock=tcp))
        transport, _ = await loop.create_datagram_endpoint(lambda: _DnsProtocol(self.model), sock=udp)
        self._servers.append(transport)

    def _caller(self, remote: Optional[str]) -> Optional[int]:
        try:
            index = node_of_address(remote or "")
        except ValueError:
            return None
        return index if index < self.num_nodes else None

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        self.requests += 1
        if request.method in ("GET", "HEAD"):
            status, body = self.model.answer(request.path, self._caller(request.remote))
        else:
            try:
                payload = json.loads(await request.read() or b"null")
            except ValueError:
                payload = None
            status, body = self.model.write(request.method, request.path, payload)
        return web.Response(status=status, text=json.dumps(body, indent=1) + "\n",
                            content_type="application/json")

    def close(self) -> None:
        if self._thread is not None:
            async def stop() -> None:
                for s in self._servers:
                    s.close()
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
            self._loop.close()
        for s in self._sockets:
            s.close()
        self._sockets = []
        for folder in self._resolv_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self._resolv_dirs = []
        if self._connected:
            plumbing.disconnect()
            self._connected = False
