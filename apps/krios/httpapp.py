"""What Krios' app servers share (stdlib only): a request handler base that answers
with the instance's name, and serving until SIGTERM with in-flight requests finished
(a graceful handover)."""
from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: the pod's name (the agent sets POD_NAME), written on every answer as X-Instance
INSTANCE = os.environ.get("POD_NAME") or os.uname().nodename


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body in separate writes: no wait for an ACK (nginx: tcp_nodelay)

    def log_message(self, *args):  # quiet
        pass

    def send(self, code: int, data: bytes, ctype: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Instance", INSTANCE)
        self.end_headers()
        self.wfile.write(data)


def add_server_args(p: argparse.ArgumentParser, port: int) -> None:
    p.add_argument("--port", type=int, default=port)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--startup-s", type=float, default=0.0,
                   help="wait this long before listening (to emulate a container's start-up time)")


def startup(args: argparse.Namespace) -> None:
    time.sleep(max(0.0, args.startup_s))


def make_server(args: argparse.Namespace, handler) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((args.bind, args.port), handler)
    server.daemon_threads = False
    server.block_on_close = True
    return server


def serve(server: ThreadingHTTPServer) -> int:
    """Serve until SIGTERM/SIGINT, then stop accepting and let requests in flight finish."""
    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()   # joins the request threads
    return 0
