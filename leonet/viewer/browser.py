"""A headless browser looking at the live view: Debian's Chromium driven over the
DevTools protocol (a WebSocket, spoken with aiohttp), for tests and for screenshots
(``leonet view --screenshot FILE``). It loads the page, waits until a frame has been
drawn, reads what the page shows and writes a PNG.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import aiohttp

from ..errors import LeonetError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> Optional[str]:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class PageView:
    """What the page showed when the screenshot was taken."""

    node_count: str      #: the header's node count, as displayed (e.g. "1,588")
    clock: str           #: the emulated time, as displayed
    tick: int            #: the tick of the frame drawn
    status: str          #: "live" while the WebSocket is connected
    path_info: str       #: the path panel's text
    screenshot: Optional[Path]


_READ_PAGE = """JSON.stringify({tick: document.body.dataset.tick || null,
  nodes: document.getElementById('node-count').textContent, clock: document.getElementById('clock').textContent,
  status: document.getElementById('status').textContent, path: document.getElementById('path-info').textContent,
  drawn: !!document.querySelector('#map .geolayer, #map .main-svg')})"""


async def _look(url: str, out: Optional[Path], width: int, height: int, timeout_s: float,
                min_tick: int, browser: str) -> PageView:
    profile = tempfile.mkdtemp(prefix="leonet-chromium-")
    proc = subprocess.Popen([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--hide-scrollbars", "--no-first-run", "--remote-debugging-port=0",
                             f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout_s
        devtools = None
        assert proc.stderr is not None
        while devtools is None:
            line = await asyncio.get_running_loop().run_in_executor(None, proc.stderr.readline)
            if not line and proc.poll() is not None:
                raise LeonetError(f"{browser} exited ({proc.returncode}) before opening its DevTools port")
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            devtools = m.group(1) if m else None
            if time.monotonic() > deadline:
                raise LeonetError(f"{browser} did not open its DevTools port within {timeout_s:.0f} s")
        port = int(re.search(r":(\d+)/", devtools).group(1))  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
                pages = [t for t in await r.json() if t.get("type") == "page"]
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                seq = 0

                async def call(method: str, **params: Any) -> Dict[str, Any]:
                    nonlocal seq
                    seq += 1
                    await ws.send_str(json.dumps({"id": seq, "method": method, "params": params}))
                    while True:
                        msg = json.loads((await ws.receive(timeout=max(1.0, deadline - time.monotonic()))).data)
                        if msg.get("id") == seq:
                            if "error" in msg:
                                raise LeonetError(f"browser: {method}: {msg['error']}")
                            return msg.get("result", {})

                await call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                           mobile=False)
                await call("Page.navigate", url=url)
                page: Dict[str, Any] = {}
                while time.monotonic() < deadline:
                    got = await call("Runtime.evaluate", expression=_READ_PAGE, returnByValue=True)
                    value = got.get("result", {}).get("value")
                    page = json.loads(value) if value else {}
                    if page.get("tick") is not None and int(page["tick"]) >= min_tick and page.get("drawn"):
                        break
                    await asyncio.sleep(0.25)
                else:
                    raise LeonetError(f"the view at {url} drew no frame within {timeout_s:.0f} s (page: {page})")
                await asyncio.sleep(0.5)   # let plotly finish drawing the frame
                if out is not None:
                    shot = await call("Page.captureScreenshot", format="png")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(base64.b64decode(shot["data"]))
                return PageView(page["nodes"], page["clock"], int(page["tick"]), page["status"], page["path"], out)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def look_at(url: str, screenshot: Optional[os.PathLike] = None, width: int = 1400, height: int = 820,
            timeout_s: float = 90.0, min_tick: int = 0) -> PageView:
    """Open ``url`` (a live view) in headless Chromium, wait until it has drawn a frame
    of at least ``min_tick``, read the header and write a PNG to ``screenshot``."""
    browser = find_browser()
    if browser is None:
        raise LeonetError("no Chromium found (Debian: apt-get install chromium)")
    return asyncio.run(_look(url, None if screenshot is None else Path(screenshot), width, height, timeout_s,
                             min_tick, browser))
