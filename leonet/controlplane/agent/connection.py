"""An agent's connection to one control plane: an HTTPS client whose sockets live in a chosen network
namespace. An agent holds it by reference, so swapping it for a connection to another control plane
(:meth:`NodeAgent.swap_connection`) redirects every later request and watch.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import tempfile
from typing import Any, AsyncIterator, Dict, Optional, Tuple
from urllib.parse import quote

import aiohttp
import yaml

from ..errors import ApiError
from ..netns import netns as get_netns

_ctx_cache: Dict[bytes, ssl.SSLContext] = {}


def client_ssl_context(ca_pem: bytes, cert_pem: Optional[bytes] = None,
                       key_pem: Optional[bytes] = None) -> ssl.SSLContext:
    """A TLS client context trusting the cluster CA, with a client certificate if given. Contexts without
    a client certificate are shared (they are the bulk of an agent's TLS memory)."""
    if not cert_pem and ca_pem in _ctx_cache:
        return _ctx_cache[ca_pem]
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    ctx.set_alpn_protocols(["http/1.1"])
    if cert_pem and key_pem:
        # ssl can only load a key pair from files: write both to a private temp file and drop it at once
        fd, path = tempfile.mkstemp(prefix="leonet-cred-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(cert_pem + b"\n" + key_pem)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
    else:
        _ctx_cache[ca_pem] = ctx
    return ctx


def resource_path(api_version: str, plural: str, namespace: Optional[str] = None, name: Optional[str] = None,
                  subresource: Optional[str] = None) -> str:
    """``/api/v1/namespaces/ns/pods/name/status`` and friends."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    p = base + (f"/namespaces/{quote(namespace)}" if namespace else "") + f"/{plural}"
    if name:
        p += f"/{quote(name)}"
    if subresource:
        p += f"/{subresource}"
    return p


class ApiConnection:
    """HTTPS client for one control plane, with client-certificate or bearer-token credentials.

    ``netns``: sockets are created in this network namespace (path or ``ip netns`` name), so thousands
    of agents on one loop can each talk from their own node's namespace.
    """

    def __init__(self, server: str, ca_pem: bytes, *, token: Optional[str] = None,
                 cert_pem: Optional[bytes] = None, key_pem: Optional[bytes] = None,
                 netns: Optional[str] = None, request_timeout: float = 30.0, name: str = ""):
        self.server = server.rstrip("/")
        self.ca_pem, self.token, self.cert_pem, self.key_pem = ca_pem, token, cert_pem, key_pem
        self.netns = netns
        self.name = name or self.server
        self.request_timeout = request_timeout
        self._session: Optional[aiohttp.ClientSession] = None
        self.closed = False

    @classmethod
    def from_kubeconfig(cls, path, netns: Optional[str] = None, context: Optional[str] = None) -> "ApiConnection":
        """From a kubeconfig with embedded data (as :meth:`ControlPlane.write_kubeconfig` writes)."""
        with open(path) as f:
            cfg = yaml.safe_load(f)
        ctx_name = context or cfg["current-context"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        dec = lambda k: base64.b64decode(user[k]) if k in user else None  # noqa: E731
        return cls(cluster["server"], base64.b64decode(cluster["certificate-authority-data"]),
                   token=user.get("token"), cert_pem=dec("client-certificate-data"),
                   key_pem=dec("client-key-data"), netns=netns, name=ctx_name)

    def with_credentials(self, *, token: Optional[str] = None, cert_pem: Optional[bytes] = None,
                         key_pem: Optional[bytes] = None) -> "ApiConnection":
        """A new connection to the same server from the same namespace with other credentials."""
        return ApiConnection(self.server, self.ca_pem, token=token, cert_pem=cert_pem, key_pem=key_pem,
                             netns=self.netns, request_timeout=self.request_timeout, name=self.name)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if self.closed:
                raise ApiError(503, f"connection to {self.name} is closed", "ServiceUnavailable")
            connector = aiohttp.TCPConnector(
                ssl=client_ssl_context(self.ca_pem, self.cert_pem, self.key_pem),
                socket_factory=get_netns(self.netns).socket_factory(), limit=0, keepalive_timeout=90,
                ttl_dns_cache=None)
            headers = {"Accept": "application/json", "User-Agent": "leonet-agent"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            self._session = aiohttp.ClientSession(connector=connector, headers=headers,
                                                  json_serialize=lambda o: json.dumps(o, separators=(",", ":")))
        return self._session

    async def close(self) -> None:
        self.closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, body: Any = None, params: Optional[dict] = None,
                      content_type: str = "application/json", timeout: Optional[float] = None) -> Any:
        """One API call; returns the decoded JSON body or raises :class:`ApiError` (network failures
        become 503 ServiceUnavailable, timeouts 504)."""
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": content_type} if data is not None else None
        try:
            async with self.session.request(
                    method, self.server + path, data=data, params=params, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout or self.request_timeout)) as resp:
                raw = await resp.read()
                try:
                    out = json.loads(raw) if raw else None
                except ValueError:
                    out = raw.decode(errors="replace")
                if resp.status >= 400:
                    raise ApiError.from_status(resp.status, out)
                return out
        except asyncio.TimeoutError:
            raise ApiError(504, f"request to {self.name} timed out", "Timeout")
        except aiohttp.ClientError as e:
            raise ApiError(503, f"cannot reach {self.name}: {e}", "ServiceUnavailable")

    # --- typed helpers --------------------------------------------------------------------
    async def get(self, api_version: str, plural: str, name: str, namespace: Optional[str] = None,
                  subresource: Optional[str] = None) -> dict:
        return await self.request("GET", resource_path(api_version, plural, namespace, name, subresource))

    async def list(self, api_version: str, plural: str, namespace: Optional[str] = None, **params) -> dict:
        return await self.request("GET", resource_path(api_version, plural, namespace), params=params or None)

    async def create(self, api_version: str, plural: str, body: dict, namespace: Optional[str] = None,
                     subresource: Optional[str] = None, name: Optional[str] = None) -> dict:
        return await self.request("POST", resource_path(api_version, plural, namespace, name, subresource), body)

    async def update(self, api_version: str, plural: str, body: dict, namespace: Optional[str] = None,
                     subresource: Optional[str] = None) -> dict:
        name = body["metadata"]["name"]
        return await self.request("PUT", resource_path(api_version, plural, namespace, name, subresource), body)

    async def patch(self, api_version: str, plural: str, name: str, patch: Any, namespace: Optional[str] = None,
                    subresource: Optional[str] = None,
                    content_type: str = "application/merge-patch+json") -> dict:
        return await self.request("PATCH", resource_path(api_version, plural, namespace, name, subresource),
                                  patch, content_type=content_type)

    async def delete(self, api_version: str, plural: str, name: str, namespace: Optional[str] = None,
                     options: Optional[dict] = None) -> Any:
        return await self.request("DELETE", resource_path(api_version, plural, namespace, name), options)

    async def watch(self, api_version: str, plural: str, namespace: Optional[str] = None,
                    resource_version: Optional[str] = None, timeout_seconds: int = 300,
                    **params) -> AsyncIterator[Tuple[str, dict]]:
        """Yield ``(type, object)`` until the server ends the watch. An ERROR event (e.g. 410 Gone) is
        raised as :class:`ApiError`."""
        q = dict(params, watch="true", timeoutSeconds=str(timeout_seconds), allowWatchBookmarks="true")
        if resource_version:
            q["resourceVersion"] = resource_version
        try:
            async with self.session.get(self.server + resource_path(api_version, plural, namespace), params=q,
                                        timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout,
                                                                      sock_read=timeout_seconds + 30)) as resp:
                if resp.status >= 400:
                    raw = await resp.read()
                    try:
                        raise ApiError.from_status(resp.status, json.loads(raw))
                    except ValueError:
                        raise ApiError(resp.status, raw.decode(errors="replace"))
                while True:
                    line = await resp.content.readline()
                    if not line:
                        return
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    if ev.get("type") == "ERROR":
                        o = ev.get("object") or {}
                        raise ApiError.from_status(int(o.get("code") or 500), o)
                    yield ev["type"], ev["object"]
        except asyncio.TimeoutError:
            raise ApiError(504, f"watch on {self.name} timed out", "Timeout")
        except aiohttp.ClientError as e:
            raise ApiError(503, f"cannot reach {self.name}: {e}", "ServiceUnavailable")

    def __repr__(self) -> str:
        return f"ApiConnection({self.name!r}, netns={self.netns!r})"
