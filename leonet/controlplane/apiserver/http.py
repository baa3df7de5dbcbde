"""The HTTP(S) front end: URL routing to :class:`Api`, authentication, content negotiation (JSON and
kubectl's Table), list pagination and streaming watches."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from http import HTTPStatus
from typing import Any, Dict, Optional, Tuple

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler

from ..auth import TokenFile, User, authorize, user_from_peercert
from ..errors import ApiError, status_object
from ..patch import PATCH_TYPES, unsupported_patch_type
from ..resources import ResourceType
from ..selectors import make_filter
from ..watch import BOOKMARK, ERROR
from . import bodies, discovery, tables
from .rest import Api

log = logging.getLogger("leonet.controlplane.apiserver")

_NS_SUBRESOURCES = ("status", "finalize")
#: longest request line or header line (Go's server, hence Kubernetes, allows 1 MiB of headers in all)
MAX_HEADER_BYTES = 64 * 1024
_dumps = lambda o: json.dumps(o, separators=(",", ":"))  # noqa: E731


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_dumps(obj).encode(), status=status, content_type="application/json")


def _error(err: ApiError) -> web.Response:
    return _json(err.status(), err.code)


@web.middleware
async def _status_errors(request: web.Request, handler) -> web.StreamResponse:
    """aiohttp's own errors (no route for a method, a body over the limit) as Status objects."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        if e.status == 413:
            return _error(_too_large())
        return _json(status_object(e.status, f"{e.reason}: {request.method} {request.path}"), e.status)


def _too_large() -> ApiError:
    return ApiError(413, f"Request entity too large: limit is {bodies.MAX_BODY_BYTES}", "RequestEntityTooLarge")


class _StatusRequestHandler(RequestHandler):
    """A connection whose HTTP parse errors (a header line over the limit, a malformed request line)
    are answered with a Status object, as every other error, instead of aiohttp's plain text."""

    def handle_error(self, request, status: int = 500, exc: Optional[BaseException] = None,
                     message: Optional[str] = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if a response has begun
        text = message or HTTPStatus(status).phrase
        if isinstance(exc, LineTooLong):  # Go's server (and so Kubernetes) answers 431
            status, text = 431, f"Request Header Fields Too Large: {text}"
        elif isinstance(exc, BadHttpMethod):  # Kubernetes serves no method it does not know
            status, text = 405, f"the server does not allow this method on the requested resource: {text}"
        resp = _json(status_object(status, text), status)
        resp.force_close()
        return resp


class _StatusServer(web.Server):
    """aiohttp's server whose connections are :class:`_StatusRequestHandler` s."""

    def __call__(self) -> RequestHandler:
        return _StatusRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """The :class:`web.AppRunner` of an :class:`ApiServer`: every connection answers parse errors with a
    Status (see :class:`_StatusRequestHandler`); request and header lines may be
    :data:`MAX_HEADER_BYTES` long. aiohttp has no public hook for its parse-error answers, so the
    server it makes gets its connection class swapped (tests/controlplane/test_api_validation.py
    notices if an aiohttp release changes that)."""

    def __init__(self, app: web.Application, **kwargs: Any):
        kwargs.setdefault("max_line_size", MAX_HEADER_BYTES)
        kwargs.setdefault("max_field_size", MAX_HEADER_BYTES)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _StatusServer
        return server


class ApiServer:
    """aiohttp application serving :class:`Api` with Kubernetes' URL layout.

    ``bookmark_interval`` is how often watches that asked for bookmarks get one; ``watch_timeout`` the
    default server-side watch duration (Kubernetes picks 30-60 minutes at random).
    """

    def __init__(self, api: Api, tokens: TokenFile, server_address: str = "127.0.0.1:6443",
                 bookmark_interval: float = 60.0, watch_timeout: Tuple[float, float] = (1800.0, 3600.0),
                 allow_anonymous_reads: bool = False):
        self.api = api
        self.tokens = tokens
        self.server_address = server_address
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.allow_anonymous_reads = allow_anonymous_reads
        self.stats = {"requests": 0, "watches": 0}
        self.app = web.Application(client_max_size=bodies.MAX_BODY_BYTES, middlewares=[_status_errors])
        r = self.app.router
        for path, handler in (("/version", self._version), ("/healthz", self._ok), ("/livez", self._ok),
                              ("/readyz", self._ok)):
            r.add_route("*", path, handler)
            r.add_route("*", path + "/", handler)
        r.add_route("*", "/api", self._api_root)
        r.add_route("*", "/api/", self._api_root)
        r.add_route("*", "/apis", self._apis_root)
        r.add_route("*", "/apis/", self._apis_root)
        r.add_route("*", "/{prefix:api|apis}/{tail:.+}", self._resource)
        r.add_route("GET", "/openapi/v2", self._openapi_v2)
        r.add_route("GET", "/openapi/v3", self._openapi_v3)
        r.add_route("*", "/{tail:.*}", self._not_found)

    # --- auth -----------------------------------------------------------------------------
    def authenticate(self, request: web.Request) -> Optional[User]:
        h = request.headers.get("Authorization", "")
        if h.startswith("Bearer "):
            user = self.tokens.lookup(h[7:].strip())
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            return user
        transport = request.transport
        if transport is not None:
            ssl_obj = transport.get_extra_info("ssl_object")
            if ssl_obj is not None:
                return user_from_peercert(ssl_obj.getpeercert())
        return None

    def _require_user(self, request: web.Request) -> User:
        user = self.authenticate(request)
        if user is None:
            if self.allow_anonymous_reads and request.method == "GET":
                return User("system:anonymous", ["system:unauthenticated"])
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    # --- simple endpoints -----------------------------------------------------------------
    async def _version(self, request: web.Request) -> web.Response:
        return _json(discovery.version_info())

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _not_found(self, request: web.Request) -> web.Response:
        try:
            self._require_user(request)
        except ApiError as e:
            return _error(e)
        return _error(ApiError(404, "the server could not find the requested resource", "NotFound"))

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        """An OpenAPI v2 document without definitions: kubectl then validates nothing client-side and
        builds strategic merge patches from its compiled-in types. kubectl up to 1.2x asks for protobuf;
        an empty protobuf message is a valid, empty ``openapi_v2.Document``."""
        try:
            self._require_user(request)
        except ApiError as e:
            return _error(e)
        if "protobuf" in request.headers.get("Accept", ""):
            return web.Response(body=b"", content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        return _json({"swagger": "2.0", "info": {"title": "leonet", "version": discovery.version_info()["gitVersion"]},
                      "paths": {}, "definitions": {}})

    async def _openapi_v3(self, request: web.Request) -> web.Response:
        try:
            self._require_user(request)
        except ApiError as e:
            return _error(e)
        return _json({"paths": {}})

    async def _api_root(self, request: web.Request) -> web.Response:
        try:
            self._require_user(request)
        except ApiError as e:
            return _error(e)
        return _json(discovery.api_versions(self.server_address))

    async def _apis_root(self, request: web.Request) -> web.Response:
        try:
            self._require_user(request)
        except ApiError as e:
            return _error(e)
        return _json(discovery.api_group_list(self.api.registry))

    # --- resources ------------------------------------------------------------------------
    async def _resource(self, request: web.Request) -> web.StreamResponse:
        self.stats["requests"] += 1
        try:
            user = self._require_user(request)
            return await self._dispatch(request, user)
        except ApiError as e:
            return _error(e)
        except (ConnectionResetError, asyncio.CancelledError, web.HTTPException):
            raise
        except Exception as e:  # a bug: answer like the real server does, keep serving
            log.exception("internal error on %s %s", request.method, request.path)
            return _error(ApiError(500, f"Internal error occurred: {e!r}", "InternalError"))

    def _parse(self, request: web.Request):
        segs = [s for s in request.path.split("/") if s]
        if segs[0] == "api":
            if len(segs) < 2:
                raise ApiError(404, "the server could not find the requested resource", "NotFound")
            group, version, rest = "", segs[1], segs[2:]
        else:
            if len(segs) < 2:
                raise ApiError(404, "the server could not find the requested resource", "NotFound")
            group = segs[1]
            if len(segs) == 2:
                return group, None, None, None, None, None
            version, rest = segs[2], segs[3:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NS_SUBRESOURCES:
            ns, rest = rest[1], rest[2:]
        if rest and rest[0] == "watch":
            raise ApiError(404, "the deprecated /watch/ URL prefix is not served: use ?watch=true", "NotFound")
        plural = rest[0] if rest else None
        name = rest[1] if len(rest) > 1 else None
        sub = "/".join(rest[2:]) if len(rest) > 2 else None
        return group, version, ns, plural, name, sub

    async def _dispatch(self, request: web.Request, user: User) -> web.StreamResponse:
        group, version, ns, plural, name, sub = self._parse(request)
        method = request.method
        if version is None:   # /apis/<group>
            if group not in self.api.registry.group_versions():
                raise ApiError(404, "the server could not find the requested resource", "NotFound")
            return _json(discovery.api_group(self.api.registry, group))
        if plural is None:    # /api/v1, /apis/<group>/<version>
            if version not in self.api.registry.group_versions().get(group, []):
                raise ApiError(404, "the server could not find the requested resource", "NotFound")
            return _json(discovery.api_resource_list(self.api.registry, group, version))
        rt = self.api.resource(group, version, plural)
        if ns is not None and not rt.namespaced:
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        if sub and sub not in rt.subresources:
            raise ApiError(404, f"the server could not find the requested resource ({rt.plural}/{sub})",
                           "NotFound")
        q = request.query
        verb = self._verb(method, name, q)
        ok, why = authorize(user, verb, group, f"{rt.plural}/{sub}" if sub else rt.plural)
        if not ok:
            scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            raise ApiError(403, f'{rt.plural} is forbidden: User "{user.name}" cannot {verb} resource '
                                f'"{rt.plural}" in API group "{group}" {scope}: {why}', "Forbidden",
                           {"kind": rt.plural, "group": group})
        dry = "All" in q.getall("dryRun", [])
        if verb == "watch":
            return await self._watch(request, rt, ns, q)
        if verb == "list":
            return self._list(request, rt, ns, q)
        if verb == "get":
            return self._out(request, rt, self.api.get(rt, ns, name))
        if verb == "create":
            if (name and sub not in ("binding", "eviction")) or (sub and not name):
                raise ApiError(405, f"the server does not allow this method on the requested resource "
                                    f"(POST {request.path})", "MethodNotAllowed")
            body = await self._body(request)
            if sub == "binding":
                self.api.bind(ns or "default", name, body)
                return _json(status_object(201, "", "Created") | {"status": "Success"}, 201)
            if sub == "eviction":
                self.api.evict(ns or "default", name, body)
                return _json(status_object(201, "", "Created") | {"status": "Success"}, 201)
            return self._out(request, rt, self.api.create(rt, ns, body, user.as_dict(), dry), 201)
        if verb == "update":
            body = await self._body(request)
            return self._out(request, rt, self.api.update(rt, ns, name, body, sub, dry))
        if verb == "patch":
            if request.content_type not in PATCH_TYPES:  # before reading a body we cannot decode
                raise unsupported_patch_type(request.content_type)
            body = await self._body(request, allow_list=True)
            return self._out(request, rt, self.api.patch(rt, ns, name, request.content_type, body, sub, dry))
        if verb == "delete":
            opts = await self._delete_options(request)
            return self._out(request, rt, self.api.delete(rt, ns, name, opts, dry))
        if verb == "deletecollection":
            opts = await self._delete_options(request)
            items = self.api.delete_collection(rt, ns, self._filter(rt, q), opts)
            return _json({"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                          "metadata": {"resourceVersion": str(self.api.store.rv)}, "items": items})
        raise ApiError(405, f"the server does not allow this method on the requested resource "
                            f"({method} {request.path})", "MethodNotAllowed")

    @staticmethod
    def _verb(method: str, name: Optional[str], q) -> str:
        watch = q.get("watch", "").lower() in ("true", "1")
        if method == "GET":
            return "get" if name else ("watch" if watch else "list")
        if method == "POST":
            return "create"
        if method == "PUT" and name:
            return "update"
        if method == "PATCH" and name:
            return "patch"
        if method == "DELETE":
            return "delete" if name else "deletecollection"
        raise ApiError(405, f"the server does not allow this method on the requested resource ({method})",
                       "MethodNotAllowed")

    @staticmethod
    async def _read(request: web.Request) -> bytes:
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large() from None

    async def _body(self, request: web.Request, allow_list: bool = False) -> Any:
        raw = await self._read(request)
        if not raw:
            raise ApiError(400, "the request body is empty", "BadRequest")
        body = bodies.decode(raw, request.content_type)
        if not isinstance(body, dict) and not (allow_list and isinstance(body, list)):
            raise ApiError(400, "the body of the request must be a JSON object", "BadRequest")
        return body

    async def _delete_options(self, request: web.Request) -> Dict[str, Any]:
        opts: Dict[str, Any] = {}
        if request.can_read_body:
            raw = await self._read(request)
            if raw.strip():
                opts = bodies.decode(raw, request.content_type)
                if not isinstance(opts, dict):
                    raise ApiError(400, "invalid DeleteOptions: the body must be a JSON object", "BadRequest")
        grace = bodies.int_param(request.query, "gracePeriodSeconds")
        if grace is not None:
            opts["gracePeriodSeconds"] = grace
        self.api.check_delete_options(opts)
        return opts

    def _filter(self, rt: ResourceType, q):
        return make_filter(q.get("labelSelector"), q.get("fieldSelector"), rt.key)

    @staticmethod
    def _wants_table(request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _out(self, request: web.Request, rt: ResourceType, obj: dict, status: int = 200) -> web.Response:
        if self._wants_table(request):
            return _json(tables.to_table(rt, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion",
                                                                                          "")},
                                         request.query.get("includeObject", "Metadata")), status)
        return _json(obj, status)

    def _list(self, request: web.Request, rt: ResourceType, ns: Optional[str], q) -> web.Response:
        bodies.resource_version_param(q)  # a list is always of the latest state; a bad version is still a 400
        limit = bodies.int_param(q, "limit", 0)
        items, rv = self.api.list(rt, ns, self._filter(rt, q))
        meta: Dict[str, Any] = {"resourceVersion": str(rv)}
        cont = q.get("continue")
        if cont:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                after = (token["ns"], token["name"])
                if not all(isinstance(part, str) for part in after):
                    raise TypeError("not strings")
            except (ValueError, KeyError, TypeError, RecursionError):
                raise ApiError(400, "continue key is not valid", "BadRequest") from None
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after]
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = base64.urlsafe_b64encode(_dumps(
                {"ns": last.get("namespace", ""), "name": last["name"], "rv": rv}).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if self._wants_table(request):
            return _json(tables.to_table(rt, items, meta, q.get("includeObject", "Metadata")))
        return _json({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": items})

    async def _watch(self, request: web.Request, rt: ResourceType, ns: Optional[str], q) -> web.StreamResponse:
        since = bodies.resource_version_param(q)
        timeout_param = bodies.int_param(q, "timeoutSeconds", 0)
        timeout = float(timeout_param) if timeout_param else random.uniform(*self.watch_timeout)
        bookmarks = q.get("allowWatchBookmarks", "").lower() in ("true", "1")
        predicate = self._filter(rt, q)
        resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                           "Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        try:
            watcher = self.api.store.hub.watch(rt.key, ns, predicate, since)
        except ApiError as e:  # 410 Gone travels as an ERROR event, as in Kubernetes
            await resp.write(_dumps({"type": ERROR, "object": e.status()}).encode() + b"\n")
            return resp
        self.stats["watches"] += 1
        try:
            if since is None:  # "get state and start at most recent": synthetic ADDED for what exists
                items, _ = self.api.list(rt, ns, predicate)
                if items:
                    await resp.write(b"".join(b'{"type":"ADDED","object":' + _dumps(self._conv(rt, o)).encode()
                                              + b"}\n" for o in items))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            next_bookmark = loop.time() + self.bookmark_interval
            while True:
                now = loop.time()
                wait = deadline - now
                if bookmarks:
                    wait = min(wait, next_bookmark - now)
                if wait <= 0:
                    if now >= deadline:
                        break
                    await resp.write(_dumps({"type": BOOKMARK, "object": {
                        "kind": rt.kind, "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(self.api.store.rv)}}}).encode() + b"\n")
                    next_bookmark = now + self.bookmark_interval
                    continue
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), wait)
                except asyncio.TimeoutError:
                    continue
                if item is None:
                    break
                chunks = [self._line(rt, *item)]
                while not watcher.queue.empty() and len(chunks) < 256:
                    nxt = watcher.queue.get_nowait()
                    if nxt is None:
                        break
                    chunks.append(self._line(rt, *nxt))
                await resp.write(b"".join(chunks))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.close()
        return resp

    def _conv(self, rt: ResourceType, obj: dict) -> dict:
        return obj if rt.builtin else self.api._versioned(rt, obj)

    def _line(self, rt: ResourceType, type_: str, ev) -> bytes:
        if rt.builtin or ev.obj.get("apiVersion") == rt.api_version:
            return ev.line(type_)
        return _dumps({"type": type_, "object": self._conv(rt, ev.obj)}).encode() + b"\n"
