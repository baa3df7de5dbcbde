"""Many clients of one Komet application, one per ground station, in one process: the
IoT buoys (Sec. 7.2) and the CDN clients (Sec. 7.3) of the paper.

Each client runs on its own thread that has entered its ground station's network
namespace (so its sockets are that station's: every request crosses the emulated
links), with its own asyncio loop. It subscribes to the ground scheduler's WebSocket
(``?client=NAME``), waits for its first satellite, then sends requests at the
satellite the scheduler named last:

``iot``  every ``--interval`` s (the paper: 1 s; the artifact's sensor: 2 s) a
         ``POST /sensors`` with ``{"name", "value"}``, the value uniform in [0, 36);
         the answer must be a float (the risk factor).
``cdn``  every ``--interval`` s (5 s) a ``GET /cdn`` whose body is a path drawn by
         popularity (:mod:`apps.komet.catalog`); the answer must be the item's bytes
         followed by ``1`` (a cache hit) or ``0`` (a miss).

The clients start spread over one interval. One CSV row per request: wall time,
client, satellite, latency, success, error, and ``hit`` (cdn) or ``risk`` (iot).
A request fails on a timeout (``--timeout``), a non-200 answer or a wrong answer.

    python -m apps.komet.fleet --workload iot|cdn --clients clients.json \\
        --scheduler ws://HOST:8765/ws --duration S --out requests.csv [--interval S] [--timeout S]

``clients.json``: ``[{"name": "buoy-21413", "netns": "ln-buoy-21413"}, ...]``. Prints
``ready`` once every client has its first satellite; ends after ``--duration`` s or on
SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import aiohttp

from .catalog import Sampler, size_of
from .client import INVOKE_PORT, Serving, follow

FIELDS = ["wall", "client", "node", "latency_ms", "ok", "error", "hit", "risk"]


class Output:
    """The CSV shared by all clients' threads."""

    def __init__(self, path: str):
        self.fh = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.fh, FIELDS, extrasaction="ignore")
        self.writer.writeheader()
        self.lock = threading.Lock()

    def write(self, row: Dict[str, Any]) -> None:
        with self.lock:
            self.writer.writerow(row)

    def close(self) -> None:
        with self.lock:
            self.fh.close()


async def iot_request(session: aiohttp.ClientSession, serving: Serving, client: str, rng: random.Random,
                      timeout_s: float) -> Dict[str, Any]:
    name = client.split("-", 1)[-1]
    body = json.dumps({"name": name, "value": rng.uniform(0.0, 36.0)})
    row, text = await _call(session, "POST", serving, "sensors", body, timeout_s)
    if row["ok"]:
        try:
            row["risk"] = float(text)
        except ValueError:
            row.update(ok=False, error=f"not a risk factor: {text[:80]!r}")
    return row


async def cdn_request(session: aiohttp.ClientSession, serving: Serving, sampler: Sampler,
                      timeout_s: float) -> Dict[str, Any]:
    path = sampler.path()
    row, text = await _call(session, "GET", serving, "cdn", path, timeout_s)
    if row["ok"]:
        if text[-1:] not in ("0", "1") or len(text) - 1 != size_of(path):
            row.update(ok=False, error=f"wrong content for {path}: {len(text)} bytes")
        else:
            row["hit"] = int(text[-1])
    return row


async def _call(session: aiohttp.ClientSession, method: str, serving: Serving, function: str, body: str,
                timeout_s: float):
    node, address = serving.node, serving.address
    row: Dict[str, Any] = {"wall": round(time.time(), 4), "node": node, "hit": "", "risk": ""}
    t0 = time.perf_counter()
    text = ""
    try:
        async with session.request(method, f"http://{address}:{INVOKE_PORT}/{function}", data=body.encode(),
                                   timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            text = await resp.text()
            ok, error = resp.status == 200, "" if resp.status == 200 else f"{resp.status} {text[:200]}"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        ok, error = False, type(exc).__name__
    row.update(latency_ms=round((time.perf_counter() - t0) * 1000, 3), ok=ok, error=error)
    return row, text


class Client(threading.Thread):
    """One ground station's client on its own thread, inside its namespace."""

    def __init__(self, spec: Dict[str, str], args: argparse.Namespace, out: Output, first: threading.Barrier,
                 stop: threading.Event, index: int):
        super().__init__(name=f"client-{spec['name']}", daemon=True)
        self.spec, self.args, self.out, self.first, self.stop_flag = spec, args, out, first, stop
        self.index = index
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            if self.spec.get("netns"):
                from leonet.emulation.netns import path_of, setns
                fd = os.open(str(path_of(self.spec["netns"])), os.O_RDONLY)
                try:
                    setns(fd)                  # this thread only
                finally:
                    os.close(fd)
            asyncio.run(self.main())
        except BaseException as exc:           # reported by the main thread
            self.error = exc
            try:
                self.first.abort()
            except threading.BrokenBarrierError:
                pass

    async def main(self) -> None:
        a = self.args
        name = self.spec["name"]
        serving, stop = Serving(), asyncio.Event()
        rng = random.Random(f"{a.seed}:{name}")
        if a.workload == "iot":
            def make(session): return iot_request(session, serving, name, rng, a.timeout)
        else:
            sampler = Sampler(rng.randrange(2 ** 32))
            def make(session): return cdn_request(session, serving, sampler, a.timeout)
        async with aiohttp.ClientSession() as session:
            watcher = asyncio.ensure_future(follow(session, f"{a.scheduler}?client={name}", serving, stop))
            await asyncio.wait_for(serving.first.wait(), a.connect_timeout)
            await asyncio.get_running_loop().run_in_executor(None, self.first.wait, a.connect_timeout)
            end = time.monotonic() + a.duration
            next_at = time.monotonic() + a.interval * self.index / max(1, a.count)   # spread the clients
            tasks: List[asyncio.Task] = []
            while not self.stop_flag.is_set() and time.monotonic() < end:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                tasks.append(asyncio.ensure_future(self._one(make, session, name)))
                tasks = [t for t in tasks if not t.done()]
                next_at += a.interval
            await asyncio.gather(*tasks, return_exceptions=True)
            stop.set()
            watcher.cancel()

    async def _one(self, make: Callable, session: aiohttp.ClientSession, name: str) -> None:
        row = await make(session)
        row["client"] = name
        self.out.write(row)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=("iot", "cdn"), required=True)
    p.add_argument("--clients", required=True, help="JSON list of {name, netns}")
    p.add_argument("--scheduler", required=True, help="ws://HOST:PORT/ws")
    p.add_argument("--duration", type=float, default=1200)
    p.add_argument("--interval", type=float, default=None, help="s between a client's requests (iot 1, cdn 5)")
    p.add_argument("--timeout", type=float, default=None, help="request timeout in s (iot 1, cdn 0.5)")
    p.add_argument("--connect-timeout", type=float, default=120)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    args.interval = args.interval or (1.0 if args.workload == "iot" else 5.0)
    args.timeout = args.timeout or (1.0 if args.workload == "iot" else 0.5)
    with open(args.clients) as fh:
        specs = json.load(fh)
    args.count = len(specs)
    out, stop = Output(args.out), threading.Event()
    ready = threading.Barrier(len(specs) + 1)
    clients = [Client(s, args, out, ready, stop, i) for i, s in enumerate(specs)]
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for c in clients:
        c.start()
    try:
        ready.wait(args.connect_timeout + 5)
    except threading.BrokenBarrierError:
        bad = [f"{c.spec['name']}: {c.error!r}" for c in clients if c.error is not None]
        sys.exit(f"the clients did not all get a satellite: {'; '.join(bad) or 'timeout'}")
    print("ready", flush=True)
    for c in clients:
        while c.is_alive() and not stop.is_set():
            c.join(0.5)
    for c in clients:
        c.join(10)
    out.close()
    failed = [c for c in clients if c.error is not None]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
