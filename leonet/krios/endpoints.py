"""Where a zone's clients find the application: the endpoint publisher.

Krios' handover switches clients from the old instance to the new one (make before
break). On leonet this is a DNS name, ``<app>.<namespace>.krios.leonet``, published in
the info API's DNS (``PUT /records/<name>``) with a short TTL; clients inside the
zone resolve it before each request. Against a cluster without leonet, the
``none`` publisher leaves traffic to a Kubernetes Service selecting the app's label
(the paper's setting: both instances are endpoints during the overlap).
"""
from __future__ import annotations

import logging
from typing import List, Sequence

log = logging.getLogger("leonet.krios")

SUFFIX = "krios.leonet"


def service_name(app: str, namespace: str = "default") -> str:
    return f"{app}.{namespace}.{SUFFIX}"


class Endpoints:
    """Publishes nothing (a Kubernetes Service routes instead)."""

    async def publish(self, name: str, addresses: Sequence[str], ttl_s: int) -> None:
        return None

    async def close(self) -> None:
        return None


class InfoApiEndpoints(Endpoints):
    """Publishes A records through the info API of the node it runs in."""

    def __init__(self, url: str = "http://169.254.169.254"):
        self.url = url.rstrip("/")
        self._session = None
        self.published: List[tuple] = []

    async def publish(self, name: str, addresses: Sequence[str], ttl_s: int) -> None:
        import aiohttp
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.put(f"{self.url}/records/{name}", json={"addresses": list(addresses),
                                                                         "ttl_s": int(ttl_s)},
                                     timeout=aiohttp.ClientTimeout(total=5)) as r:
            body = await r.json(content_type=None)
            if r.status != 200:
                raise RuntimeError(f"publishing {name}: {r.status} {body}")
        self.published.append((name, tuple(addresses)))
        log.info("endpoint %s -> %s", name, ", ".join(addresses))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class RecordTableEndpoints(Endpoints):
    """Publishes into an info-API record table of the same process (an emulation's
    own, or a standalone one in tests)."""

    def __init__(self, table):
        self.table = table

    async def publish(self, name: str, addresses: Sequence[str], ttl_s: int) -> None:
        self.table.set(name, list(addresses), int(ttl_s))
        log.info("endpoint %s -> %s", name, ", ".join(addresses))
