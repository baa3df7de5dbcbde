"""The cache client of a ground station (the paper's Go client, Sec. 7.1): subscribes
to the ground scheduler's WebSocket, and once a second writes a key (``put``) and
reads it back (``get``) at the satellite the scheduler named last, with a 500 ms
timeout. One CSV row per request: wall time, emulated-independent; the satellite; the
latency; whether it succeeded (a read must return the value written).

    python -m apps.komet.client --scheduler ws://HOST:8765/ws --client redmond \\
        --duration 900 --out requests.csv [--interval 1.0] [--timeout 0.5]

Prints ``ready`` once the first assignment arrived; ends after ``--duration`` s or on
SIGTERM, and its exit status is the number of failed requests (capped at 100).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import signal
import sys
import time
from typing import Dict, Optional

import aiohttp

INVOKE_PORT = 8000
FIELDS = ["wall", "kind", "node", "latency_ms", "ok", "error"]


class Serving:
    """The satellite the scheduler named last."""

    def __init__(self) -> None:
        self.node: Optional[str] = None
        self.address: Optional[str] = None
        self.first = asyncio.Event()

    def update(self, msg: Dict[str, str]) -> None:
        self.node, self.address = msg["node"], msg["address"]
        self.first.set()


async def follow(session: aiohttp.ClientSession, url: str, serving: Serving, stop: asyncio.Event) -> None:
    """Keep the subscription; reconnect if the scheduler's socket drops."""
    while not stop.is_set():
        try:
            async with session.ws_connect(url, heartbeat=10) as ws:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        serving.update(json.loads(msg.data))
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.5)


async def request(session: aiohttp.ClientSession, serving: Serving, kind: str, body: str,
                  timeout_s: float) -> Dict[str, object]:
    node, address = serving.node, serving.address
    t0 = time.perf_counter()
    row: Dict[str, object] = {"wall": round(time.time(), 4), "kind": kind, "node": node}
    try:
        async with session.post(f"http://{address}:{INVOKE_PORT}/{kind}", data=body.encode(),
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            text = await resp.text()
            ok, error = resp.status == 200, "" if resp.status == 200 else f"{resp.status} {text[:200]}"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        text, ok, error = "", False, type(exc).__name__
    row.update(latency_ms=round((time.perf_counter() - t0) * 1000, 3), ok=ok, error=error)
    row["_text"] = text
    return row


async def run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = Serving()
    failed = 0
    async with aiohttp.ClientSession() as session:
        watcher = asyncio.ensure_future(follow(session, f"{args.scheduler}?client={args.client}", serving, stop))
        await asyncio.wait_for(serving.first.wait(), args.connect_timeout)
        print("ready", flush=True)
        with open(args.out, "w", newline="") as fh:
            out = csv.DictWriter(fh, FIELDS, extrasaction="ignore")
            out.writeheader()
            end = time.monotonic() + args.duration
            i = 0
            next_at = time.monotonic()
            while not stop.is_set() and time.monotonic() < end:
                key, value = f"{args.client}-{i}", str(i)
                put = await request(session, serving, "put", json.dumps({"key": key, "value": value}), args.timeout)
                get = await request(session, serving, "get", key, args.timeout)
                if get["ok"] and put["ok"] and get["_text"] != value:
                    get.update(ok=False, error=f"read {get['_text']!r}, wrote {value!r}")
                for row in (put, get):
                    failed += not row["ok"]
                    out.writerow(row)
                fh.flush()
                i += 1
                next_at += args.interval
                try:
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
                except asyncio.TimeoutError:
                    pass
        watcher.cancel()
    return min(failed, 100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scheduler", required=True, help="ws://HOST:PORT/ws")
    p.add_argument("--client", required=True)
    p.add_argument("--duration", type=float, default=900)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=0.5)
    p.add_argument("--connect-timeout", type=float, default=60)
    p.add_argument("--out", required=True)
    sys.exit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()
