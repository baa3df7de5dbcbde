"""A zone's client for Krios' experiments (stdlib only): from a ground-station node,
request one or more apps every ``--interval`` seconds and log each request's latency
and outcome as a JSON line.

Each request re-resolves the app's name (the zone's service record in the info API's
DNS, so the client follows handovers), opens a fresh TCP connection (connect timeout
``--timeout``, 1 s as the paper's client) and sends a GET (or a 4-byte heartbeat
POST with ``--heartbeat``). ``total_ms`` is connect + request + response (two round
trips), without the DNS lookup, which is logged as ``dns_ms``; ``ttfb_ms`` is the part
until the response's headers arrived (the rest, ``total_ms - ttfb_ms``, is reading the
body: for a large document, its transfer). Every line carries the
emulation's offset (from the info API's ``/clock``) beside the wall time.

    python apps/krios/client.py --target web=http://web.default.krios.leonet:8080/ \\
        [--target ...] [--interval 1] [--duration 600] [--heartbeat SENSOR] --out requests.jsonl
"""
from __future__ import annotations

import argparse
import http.client
import json
import signal
import socket
import sys
import threading
import time
import urllib.request
from urllib.parse import urlsplit

INFO = "http://169.254.169.254"


class EmulationClock:
    """Emulated offset now, from the info API (None outside an emulation)."""

    def __init__(self):
        self._sync = None
        self.refresh()

    def refresh(self) -> None:
        try:
            t0 = time.monotonic()
            with urllib.request.urlopen(INFO + "/clock", timeout=2) as r:
                body = json.load(r)
            self._sync = ((t0 + time.monotonic()) / 2, float(body["offset_s"]), float(body.get("speed", 1.0)),
                          bool(body.get("ticking", True)))
        except (OSError, ValueError, KeyError):
            self._sync = None

    def ticking(self) -> bool:
        return self._sync is not None and self._sync[3]

    def offset(self):
        if self._sync is None:
            return None
        mono, off, speed, ticking = self._sync
        return off + (time.monotonic() - mono) * speed if ticking else off


def one_request(url: str, timeout: float, read_timeout: float, heartbeat=None, seq=0) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    out = {"ok": False, "status": None, "ip": None, "dns_ms": None, "connect_ms": None, "ttfb_ms": None,
           "total_ms": None, "error": None, "instance": None, "bytes": 0}
    t0 = time.perf_counter()
    try:
        ip = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except OSError as exc:
        out["error"] = f"dns: {exc}"
        return out
    t1 = time.perf_counter()
    out["ip"], out["dns_ms"] = ip, (t1 - t0) * 1000
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.connect()
        t2 = time.perf_counter()
        out["connect_ms"] = (t2 - t1) * 1000
        conn.sock.settimeout(read_timeout)
        path = parts.path or "/"
        if heartbeat is not None:
            conn.request("POST", f"/hb/{heartbeat}/{seq}", body=b"\x00\x00\x00\x01",
                         headers={"Host": host, "Content-Type": "application/octet-stream"})
        else:
            conn.request("GET", path, headers={"Host": host, "User-Agent": "krios-client"})
        resp = conn.getresponse()
        out["ttfb_ms"] = (time.perf_counter() - t1) * 1000
        data = resp.read()
        out["total_ms"] = (time.perf_counter() - t1) * 1000
        out.update(status=resp.status, ok=200 <= resp.status < 300, bytes=len(data),
                   instance=resp.getheader("X-Instance"))
    except (OSError, http.client.HTTPException) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", action="append", required=True, metavar="NAME=URL")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--duration", type=float, help="seconds (default: until SIGTERM)")
    p.add_argument("--timeout", type=float, default=1.0, help="connect timeout (s)")
    p.add_argument("--read-timeout", type=float, default=10.0)
    p.add_argument("--heartbeat", metavar="SENSOR", help="POST 4-byte heartbeats as this sensor")
    p.add_argument("--client", default=socket.gethostname(), help="name written on every line")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    targets = []
    for t in args.target:
        name, sep, url = t.partition("=")
        if not sep or not url.startswith("http://"):
            p.error(f"--target {t!r}: write NAME=http://HOST:PORT/PATH")
        targets.append((name, url))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    clock = EmulationClock()
    lock = threading.Lock()
    out = open(args.out, "a", buffering=1, encoding="utf-8")
    end = None if args.duration is None else time.monotonic() + args.duration

    def loop(name: str, url: str) -> None:
        seq, t_next = 0, time.monotonic()
        while not stop.is_set() and (end is None or time.monotonic() < end):
            wall, offset = time.time(), clock.offset()
            r = one_request(url, args.timeout, args.read_timeout, args.heartbeat, seq)
            r.update(client=args.client, target=name, seq=seq, t_wall=round(wall, 6),
                     t_offset=None if offset is None else round(offset, 3))
            with lock:
                out.write(json.dumps(r) + "\n")
            seq += 1
            t_next += args.interval
            stop.wait(max(0.0, t_next - time.monotonic()))

    threads = [threading.Thread(target=loop, args=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        stop.wait(30.0 if clock.ticking() else 0.5)    # catch the moment a stopped clock starts
        clock.refresh()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
