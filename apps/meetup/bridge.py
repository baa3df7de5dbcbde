"""The meetup server (video bridge) of Celestial's section 4: every media packet a
client sends is duplicated to every other client. Stateless, like the paper's nftables
bridge, but in user space so that it can stamp its receive and send times.

One process may serve many nodes (``--nodes``: one UDP socket in each node's namespace,
see apps/common/nodesock.py): the tracker picks among the satellites' bridges, and each
answers from its own satellite. Without ``--nodes`` it serves the namespace it runs in.

    python apps/meetup/bridge.py --clients 10.64.17.34,10.64.17.35,10.64.17.36 \
        --nodes s0p3n4=12,s1p0n7=1590
"""
from __future__ import annotations

import argparse
import os
import selectors
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common.nodesock import drain, udp_socket  # noqa: E402
from meetup.protocol import MEDIA_PORT, parse, stamp  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", required=True, help="the clients' addresses, comma-separated")
    p.add_argument("--nodes", default="", help="HOST=ID,... nodes to serve (default: this namespace, id 0)")
    p.add_argument("--port", type=int, default=MEDIA_PORT)
    args = p.parse_args()
    clients = [a.strip() for a in args.clients.split(",") if a.strip()]
    sel = selectors.DefaultSelector()
    nodes = [n.split("=") for n in args.nodes.split(",") if n] or [[None, "0"]]
    for host, ident in nodes:
        sock = udp_socket(host, args.port)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, int(ident))
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    forwarded = unreachable = 0
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            sock = key.fileobj
            for data, (src, _), rx_ns in drain(sock):
                if parse(data) is None:
                    continue
                for client in clients:
                    if client != src:
                        try:
                            sock.sendto(stamp(data, key.data, rx_ns, time.time_ns()), (client, args.port))
                            forwarded += 1
                        except OSError:   # no route from this satellite now: the packet is lost
                            unreachable += 1
    print(f"bridge: forwarded {forwarded} packets, {unreachable} to unreachable clients", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
