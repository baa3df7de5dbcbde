"""The tracking service of Celestial's section 4: every ``--interval`` seconds it asks
the info API (from inside its node) which satellites are in the bounding box and how
far each is from every client, picks the satellite whose bridge minimises the sum of
squared one-way delays to the clients (the paper's "combined latency"), and tells the
clients to use it. Every decision is logged as CSV.
"""
from __future__ import annotations

import argparse
import csv
import http.client
import json
import signal
import socket
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

INFO = "169.254.169.254"
CONTROL_PORT = 7001


class Info:
    """A keep-alive HTTP client of the info API."""

    def __init__(self, host: str = INFO):
        self.host = host
        self.conn: Optional[http.client.HTTPConnection] = None

    def get(self, path: str) -> dict:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, 80, timeout=10)
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                return json.loads(response.read())
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return {}


def choose(info: Info, clients: List[str]) -> Tuple[Optional[dict], Dict[str, float], int]:
    """(best satellite's node reference, its one-way delay per client, candidates)."""
    best, best_score, best_delays, candidates = None, float("inf"), {}, 0
    for shell in info.get("/info")["shells"]:
        for sat in info.get(f"/shell/{shell['index']}")["active"]:
            delays, node = {}, None
            for c in clients:
                path = info.get(f"/path/gst/{c}/{shell['index']}/{sat}")
                if not path.get("reachable"):
                    break
                delays[c], node = path["delay_ms"], path["to"]
            else:
                candidates += 1
                score = sum(d * d for d in delays.values())
                if score < best_score:
                    best, best_score, best_delays = node, score, delays
    return best, best_delays, candidates


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", required=True, help="NAME=ADDRESS,... of the clients")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between decisions (paper: 5)")
    p.add_argument("--out", required=True, help="CSV of decisions")
    args = p.parse_args()
    clients = dict(item.split("=") for item in args.clients.split(","))
    info = Info()
    control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    with open(args.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["wall_ns", "emulated_time", "offset_s", "satellite", "shell", "address", "candidates",
                    "compute_ms"] + [f"delay_ms_{c}" for c in clients])
        t0 = time.monotonic()
        k = 0
        while not stop.is_set():
            started = time.perf_counter()
            try:
                now = info.get("/info")
                best, delays, candidates = choose(info, list(clients))
            except (OSError, ValueError, KeyError) as exc:
                print(f"tracker: info API: {exc}", file=sys.stderr)
                best = None
            if best is not None:
                for address in clients.values():
                    try:
                        control.sendto(f"BRIDGE {best['address']} {best['name']}".encode(), (address, CONTROL_PORT))
                    except OSError:   # the client is unreachable now; it keeps its bridge
                        pass
                w.writerow([time.time_ns(), now["time"], now["offset_s"], best["name"], best.get("shell"),
                            best["address"], candidates, round((time.perf_counter() - started) * 1000, 1)]
                           + [round(delays[c], 4) for c in clients])
                fh.flush()
            # the next slot on the interval's grid (slots a slow decision overran are skipped)
            k = max(k + 1, int((time.monotonic() - t0) / args.interval) + 1)
            stop.wait(max(0.0, t0 + k * args.interval - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
