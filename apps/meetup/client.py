"""A video-conference participant of Celestial's section 4: sends its video stream
(constant bit rate, ``--rate-kbps``, in ``--packet``-byte UDP packets) to the bridge it
was told to use, and logs every packet of the other participants it receives, with the
kernel's receive time, as CSV.

The bridge is fixed (``--bridge ADDRESS``, the cloud deployment) or chosen by the
tracker, which sends ``BRIDGE <address> <name>`` to the control port.
"""
from __future__ import annotations

import argparse
import csv
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common.nodesock import recv_with_timestamp, udp_socket  # noqa: E402
from meetup.protocol import CONTROL_PORT, MEDIA_PORT, media, parse  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--id", type=int, required=True, help="this client's number (0-255)")
    p.add_argument("--bridge", help="fixed bridge address (default: wait for the tracker)")
    p.add_argument("--rate-kbps", type=float, default=2600.0, help="video bit rate (paper: 2.6 Mbit/s)")
    p.add_argument("--packet", type=int, default=1200, help="UDP payload bytes")
    p.add_argument("--out", required=True, help="CSV of received packets")
    args = p.parse_args()
    media_sock = udp_socket(None, MEDIA_PORT)
    control = udp_socket(None, CONTROL_PORT, timestamps=False)
    bridge = {"address": args.bridge, "name": args.bridge or ""}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())

    def listen_control() -> None:
        control.settimeout(0.5)
        while not stop.is_set():
            try:
                words = control.recv(512).decode(errors="replace").split()
            except socket.timeout:
                continue
            if len(words) >= 2 and words[0] == "BRIDGE":
                bridge["address"], bridge["name"] = words[1], (words[2] if len(words) > 2 else words[1])

    def receive(writer) -> None:
        media_sock.settimeout(0.5)
        while not stop.is_set():
            try:
                data, _, rx_ns = recv_with_timestamp(media_sock)
            except socket.timeout:
                continue
            fields = parse(data)
            if fields is not None:
                sender, seq, send_ns, bridge_id, b_rx, b_tx = fields
                writer.writerow((sender, args.id, seq, send_ns, rx_ns, bridge_id, b_rx, b_tx))

    with open(args.out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("src", "dst", "seq", "send_ns", "rx_ns", "bridge", "bridge_rx_ns", "bridge_tx_ns"))
        threads = [threading.Thread(target=listen_control, daemon=True),
                   threading.Thread(target=receive, args=(writer,), daemon=True)]
        for t in threads:
            t.start()
        interval = args.packet * 8 / (args.rate_kbps * 1000.0)
        seq, sent, unreachable, t0 = 0, 0, 0, time.monotonic()
        while not stop.is_set():
            seq += 1
            due = t0 + seq * interval
            pause = due - time.monotonic()
            if pause > 0:
                stop.wait(pause)
            if bridge["address"]:
                try:
                    media_sock.sendto(media(args.id, seq, time.time_ns(), args.packet), (bridge["address"], MEDIA_PORT))
                    sent += 1
                except OSError:   # no route to the bridge now (no satellite in view): lost
                    unreachable += 1
        for t in threads:
            t.join(timeout=2)
    print(f"client {args.id}: sent {sent} packets, {unreachable} found no route", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
