"""Readiness and liveness probes (httpGet, tcpSocket, exec), run from the node's network namespace,
with Kubernetes' defaults: period 10 s, timeout 1 s, success threshold 1, failure threshold 3."""
from __future__ import annotations

import asyncio
from typing import Optional

import aiohttp

from ..netns import exec_prefix, netns as get_netns


def _port(port, container: dict) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"unknown named port {port!r}")


async def run_probe(probe: dict, container: dict, host: str, netns: Optional[str]) -> bool:
    """One probe attempt: ``True`` on success."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "httpGet" in probe:
            h = probe["httpGet"]
            scheme = h.get("scheme", "HTTP").lower()
            url = f"{scheme}://{h.get('host') or host}:{_port(h['port'], container)}{h.get('path', '/')}"
            headers = {x["name"]: x["value"] for x in h.get("httpHeaders") or []}
            headers.setdefault("User-Agent", "kube-probe/leonet")
            conn = aiohttp.TCPConnector(ssl=False, force_close=True,
                                        socket_factory=get_netns(netns).socket_factory())
            async with aiohttp.ClientSession(connector=conn) as s:
                async with s.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout),
                                 allow_redirects=False) as r:
                    return 200 <= r.status < 400
        if "tcpSocket" in probe:
            t = probe["tcpSocket"]
            sock = get_netns(netns).socket()
            sock.setblocking(False)
            try:
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(
                    sock, (t.get("host") or host, _port(t["port"], container))), timeout)
                return True
            finally:
                sock.close()
        if "exec" in probe:
            cmd = probe["exec"].get("command") or []
            proc = await asyncio.create_subprocess_exec(*exec_prefix(netns), *cmd,
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            try:
                return await asyncio.wait_for(proc.wait(), timeout) == 0
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                return False
    except (OSError, asyncio.TimeoutError, aiohttp.ClientError, ValueError):
        return False
    return False


class ProbeWorker:
    """Runs one probe of one container periodically and keeps the thresholded result."""

    def __init__(self, probe: dict, container: dict, host: str, netns: Optional[str], on_change,
                 initial: bool = False):
        self.probe, self.container, self.host, self.netns = probe, container, host, netns
        self.on_change = on_change
        self.result = initial
        self._succ = self._fail = 0
        self.task: Optional[asyncio.Task] = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def _run(self) -> None:
        p = self.probe
        await asyncio.sleep(float(p.get("initialDelaySeconds", 0)))
        period = float(p.get("periodSeconds", 10))
        succ_th, fail_th = int(p.get("successThreshold", 1)), int(p.get("failureThreshold", 3))
        while True:
            ok = await run_probe(p, self.container, self.host, self.netns)
            if ok:
                self._succ, self._fail = self._succ + 1, 0
                if not self.result and self._succ >= succ_th:
                    self.result = True
                    self.on_change(True)
            else:
                self._fail, self._succ = self._fail + 1, 0
                if self.result and self._fail >= fail_th or (not self.result and self._fail == fail_th):
                    self.result = False
                    self.on_change(False)
            await asyncio.sleep(period)
