"""The inference service of Celestial section 5: keeps each sensor group's latest
readings, runs the stacked LSTM (lstm.py) on the group's window for every reading, and
sends the prediction to every sink that subscribed to the group, with the sensor's send
time and its own receive and send times.

One process may serve many nodes (``--nodes HOST=ID,...``, the satellite deployment: a
socket in each satellite's namespace, each satellite with its own windows); without it,
the namespace it runs in (the central ground station).
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import sys
import time
from collections import defaultdict, deque

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from buoys.lstm import WINDOW, StackedLSTM  # noqa: E402
from buoys.protocol import READING_PORT, RESULT_PORT, parse_reading, result  # noqa: E402
from common.nodesock import drain, udp_socket  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subscriptions", required=True, help="JSON file: {group: [sink address, ...]}")
    p.add_argument("--nodes", default="", help="HOST=ID,... nodes to serve (default: this namespace)")
    p.add_argument("--id", type=int, default=0, help="the server's node id when serving this namespace")
    args = p.parse_args()
    with open(args.subscriptions) as fh:
        sinks = {int(k): v for k, v in json.load(fh).items()}
    model = StackedLSTM()
    model.fit()
    sel = selectors.DefaultSelector()
    nodes = [n.split("=") for n in args.nodes.split(",") if n] or [[None, str(args.id)]]
    for host, ident in nodes:
        sock = udp_socket(host, READING_PORT)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, (int(ident), defaultdict(lambda: deque(maxlen=WINDOW))))
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    handled = unreachable = 0
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            server, windows = key.data
            for data, _, rx_ns in drain(key.fileobj):
                fields = parse_reading(data)
                if fields is None:
                    continue
                sensor, group, seq, send_ns, value = fields
                window = windows[group]
                window.append(value)
                prediction = model.predict(list(window)) if len(window) >= 2 else value
                out = result(sensor, group, seq, send_ns, server, rx_ns, time.time_ns(), prediction)
                for address in sinks.get(group, ()):
                    try:
                        key.fileobj.sendto(out, (address, RESULT_PORT))
                    except OSError:   # the sink is unreachable now: the result is lost
                        unreachable += 1
                handled += 1
    print(f"service: handled {handled} readings, {unreachable} results found no route", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
