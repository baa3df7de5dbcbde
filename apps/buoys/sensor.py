"""Data buoys of Celestial section 5: every sensor sends one bottom-pressure reading per
second over UDP to its inference server: the central ground station (``--server
ADDRESS``) or, in the satellite deployment, the satellite it is linked to now (its
ground station's primary satellite, asked of the info API every ``--reselect`` seconds,
as the paper's sensors did every 3 s).

One process serves many sensors (``--sensors HOST=ID:GROUP,...``), each with its socket
in its own node's namespace (apps/common/nodesock.py).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from buoys.lstm import pressure  # noqa: E402
from buoys.protocol import READING_PORT, reading  # noqa: E402
from common.nodesock import in_netns, udp_socket  # noqa: E402

INFO = "169.254.169.254"


def info_connection(host: str) -> http.client.HTTPConnection:
    """A keep-alive connection to the info API from inside ``host``'s namespace."""
    def make():
        c = http.client.HTTPConnection(INFO, 80, timeout=5)
        c.connect()
        return c
    return in_netns(host, make)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sensors", required=True, help="HOST=ID:GROUP,... (node host name, sensor id, group)")
    p.add_argument("--names", required=True, help="the sensors' ground-station names, same order, comma-separated")
    p.add_argument("--server", help="central server address (default: each sensor's uplink satellite)")
    p.add_argument("--reselect", type=float, default=3.0, help="seconds between server choices")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between readings (paper: 1)")
    args = p.parse_args()
    sensors = []
    for item, name in zip(args.sensors.split(","), args.names.split(",")):
        host, rest = item.split("=")
        ident, group = (int(x) for x in rest.split(":"))
        sensors.append({"host": host, "name": name, "id": ident, "group": group, "sock": udp_socket(host),
                        "server": args.server})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())

    def reselect() -> None:
        conn = None
        while not stop.is_set():
            for s in sensors:
                try:
                    conn = conn or info_connection(sensors[0]["host"])
                    conn.request("GET", f"/gst/{s['name']}")
                    primary = json.loads(conn.getresponse().read()).get("primary_satellite")
                    s["server"] = primary["address"] if primary else None
                except (OSError, http.client.HTTPException, ValueError):
                    conn = None
            stop.wait(args.reselect)

    if args.server is None:
        threading.Thread(target=reselect, daemon=True).start()
    # Each sensor keeps its own phase within the interval (buoys are not synchronised; a
    # burst of every reading at once would only measure the server's queue).
    for s in sensors:
        s["phase"] = (s["id"] * 0.6180339887) % 1.0 * args.interval
    sent, unreachable, seq, t0 = 0, 0, 0, time.monotonic()
    wall0 = time.time()
    while not stop.is_set():
        seq += 1
        for s in sorted(sensors, key=lambda x: x["phase"]):
            if stop.wait(max(0.0, t0 + seq * args.interval + s["phase"] - time.monotonic())):
                break
            now = time.time()
            if s["server"]:
                value = float(pressure(s["id"], np.array([now - wall0]))[0])
                try:
                    s["sock"].sendto(reading(s["id"], s["group"], seq, time.time_ns(), value),
                                     (s["server"], READING_PORT))
                    sent += 1
                except OSError:   # no satellite in view: the reading is lost
                    unreachable += 1
    print(f"sensors: sent {sent} readings from {len(sensors)} sensors, {unreachable} found no route",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
