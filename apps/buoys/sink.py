"""Ships and islands of Celestial section 5: receive the inference results for the
sensor groups they subscribed to and log each with the kernel's receive time as CSV
(one process, many sinks: a socket in each sink's namespace)."""
from __future__ import annotations

import argparse
import csv
import os
import selectors
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from buoys.protocol import RESULT_PORT, parse_result  # noqa: E402
from common.nodesock import drain, udp_socket  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sinks", required=True, help="HOST=ID,... (node host name, sink id)")
    p.add_argument("--out", required=True, help="CSV of results received")
    args = p.parse_args()
    sel = selectors.DefaultSelector()
    for item in args.sinks.split(","):
        host, ident = item.split("=")
        sock = udp_socket(host, RESULT_PORT)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, int(ident))
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    received = 0
    with open(args.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sink", "sensor", "group", "seq", "send_ns", "server", "server_rx_ns", "server_tx_ns",
                    "rx_ns", "prediction"])
        while not stop:
            for key, _ in sel.select(timeout=0.5):
                for data, _, rx_ns in drain(key.fileobj):
                    fields = parse_result(data)
                    if fields is not None:
                        sensor, group, seq, send_ns, server, s_rx, s_tx, prediction = fields
                        w.writerow([key.data, sensor, group, seq, send_ns, server, s_rx, s_tx, rx_ns,
                                    round(prediction, 4)])
                        received += 1
    print(f"sinks: received {received} results", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
