"""The client of a satellite's Komet server (``apps/komet/nodehost.py``), used by the
ground scheduler and the experiments from inside a ground station's namespace, so
every call crosses the emulated links.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, Optional

import aiohttp

MGMT_PORT = 8080
INVOKE_PORT = 8000


class NodeError(RuntimeError):
    """A satellite's server refused a call or could not be reached."""

    def __init__(self, node: str, what: str, detail: str):
        super().__init__(f"{node}: {what}: {detail}")
        self.node, self.what, self.detail = node, what, detail


class NodeClient:
    """One satellite's management API (async; share one ``aiohttp.ClientSession``)."""

    def __init__(self, session: aiohttp.ClientSession, name: str, address: str):
        self.session, self.name, self.address = session, name, address
        self.base = f"http://{address}:{MGMT_PORT}"

    async def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None, timeout_s: float = 30.0,
                    ok=(200,)) -> Dict[str, Any]:
        try:
            async with self.session.request(method, self.base + path, json=body,
                                            timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                data = await resp.json(content_type=None)
                if resp.status not in ok:
                    raise NodeError(self.name, f"{method} {path}", f"{resp.status} {data.get('error', data)}")
                return data
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise NodeError(self.name, f"{method} {path}", f"unreachable ({type(exc).__name__}: {exc})") from None

    async def wait_up(self, timeout_s: float = 10.0) -> float:
        """Poll ``/health`` until the server answers (the paper's 'FReD ready'); seconds."""
        t0 = time.perf_counter()
        while True:
            try:
                await self._call("GET", "/health", timeout_s=min(2.0, timeout_s))
                return time.perf_counter() - t0
            except NodeError:
                if time.perf_counter() - t0 > timeout_s:
                    raise
                await asyncio.sleep(0.1)

    async def status(self) -> Dict[str, Any]:
        return await self._call("GET", "/status")

    async def events(self, since: int = 0) -> list:
        return await self._call("GET", f"/events?since={since}")  # type: ignore[return-value]

    async def create_keygroup(self, kg: str, primary: Optional[str] = None, mutable: bool = True,
                              expiry_s: int = 0) -> Dict[str, Any]:
        return await self._call("PUT", f"/keygroups/{kg}", {"primary": primary, "mutable": mutable,
                                                            "expiry_s": expiry_s})

    async def restore_keygroup(self, kg: str, source: "NodeClient", mutable: bool = True,
                               expiry_s: int = 0) -> Dict[str, Any]:
        """The stop-copy-restart baseline: download ``source``'s checkpoint of ``kg`` and
        start from it (answers ``transfer_s`` and ``started_s``: the restore)."""
        return await self._call("PUT", f"/keygroups/{kg}", {"restore_from": f"{source.base}/keygroups/{kg}/snapshot",
                                                            "mutable": mutable, "expiry_s": expiry_s}, timeout_s=900)

    async def checkpoint_keygroup(self, kg: str) -> Dict[str, Any]:
        return await self._call("POST", f"/keygroups/{kg}/checkpoint", timeout_s=600)

    async def keygroup(self, kg: str) -> Dict[str, Any]:
        return await self._call("GET", f"/keygroups/{kg}")

    async def wait_synced(self, kg: str, timeout_s: float) -> Dict[str, Any]:
        return await self._call("POST", f"/keygroups/{kg}/wait-synced", {"timeout_s": timeout_s},
                                timeout_s=timeout_s + 10)

    async def replicate(self, kg: str, primary: Optional[str]) -> Dict[str, Any]:
        return await self._call("POST", f"/keygroups/{kg}/replicate", {"primary": primary})

    async def pause_writes(self, kg: str, timeout_s: float = 10.0) -> int:
        return int((await self._call("POST", f"/keygroups/{kg}/pause-writes", {"timeout_s": timeout_s}))["offset"])

    async def promote(self, kg: str, offset: int, timeout_s: float = 10.0) -> Dict[str, Any]:
        return await self._call("POST", f"/keygroups/{kg}/promote", {"offset": offset, "timeout_s": timeout_s},
                                timeout_s=timeout_s + 10)

    async def unpause(self, kg: str) -> Dict[str, Any]:
        return await self._call("POST", f"/keygroups/{kg}/unpause")

    async def delete_keygroup(self, kg: str) -> Dict[str, Any]:
        return await self._call("DELETE", f"/keygroups/{kg}", timeout_s=10)

    async def deploy_function(self, name: str, files: Dict[str, str], threads: int = 8,
                              env: Optional[Dict[str, str]] = None, keygroups=()) -> Dict[str, Any]:
        return await self._call("PUT", f"/functions/{name}", {"files": files, "threads": threads, "env": env or {},
                                                              "keygroups": list(keygroups)}, timeout_s=60)

    async def delete_function(self, name: str) -> Dict[str, Any]:
        return await self._call("DELETE", f"/functions/{name}", timeout_s=10)

    async def invoke(self, function: str, body: str = "", timeout_s: float = 5.0) -> str:
        url = f"http://{self.address}:{INVOKE_PORT}/{function}"
        try:
            async with self.session.post(url, data=body.encode(),
                                         timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise NodeError(self.name, f"invoke {function}", f"{resp.status} {text}")
                return text
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise NodeError(self.name, f"invoke {function}", f"unreachable ({type(exc).__name__})") from None
