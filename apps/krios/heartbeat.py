"""The oil-rig IoT aggregator of Krios §7.1 (stdlib only): sensors post 4-byte
heartbeats, the aggregator keeps which ones it received in a Krios volume
(:mod:`statevolume`), so that a successor on the next satellite continues with the
same state.

    POST /hb/<sensor>/<seq>    a heartbeat (4-byte body); answers the sensor's count
    GET  /hb/<sensor>          the sequence numbers received from the sensor
    GET  /krios/state          the volume's content (for the successor)
    POST /krios/state/pull     pull from $KRIOS_STATE_FROM once more (the final delta)
    GET  /healthz              200 once the initial state pull is done (readiness)

With ``KRIOS_STATE_FROM`` set, the state is pulled before the server reports ready.

    python apps/krios/heartbeat.py --port 8090
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from statevolume import StateVolume  # noqa: E402


def make_handler(volume: StateVolume, ready: threading.Event, name: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True   # headers and body in separate writes: no wait for an ACK (nginx: tcp_nodelay)
        server_version = "krios-heartbeat"

        def log_message(self, *args):
            pass

        def do_GET(self):
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if parts == ["healthz"]:
                return self._send(200 if ready.is_set() else 503, b"ok\n" if ready.is_set() else b"pulling\n")
            if parts == ["krios", "state"]:
                return self._send(200, volume.export(), "application/json")
            if len(parts) == 2 and parts[0] == "hb":
                return self._send(200, json.dumps(sorted(volume.seen.get(parts[1], ()))).encode(), "application/json")
            return self._send(404, b"not found\n")

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 3 and parts[0] == "hb" and parts[2].isdigit():
                count = volume.add(parts[1], int(parts[2]))
                return self._send(200, str(count).encode())
            if parts == ["krios", "state", "pull"]:
                source = os.environ.get("KRIOS_STATE_FROM")
                if not source:
                    return self._send(409, b"no KRIOS_STATE_FROM\n")
                try:
                    added = volume.pull(source)
                except OSError as exc:
                    return self._send(502, f"{exc}\n".encode())
                return self._send(200, json.dumps({"added": added}).encode(), "application/json")
            return self._send(404, b"not found\n")

        def _send(self, code: int, data: bytes, ctype: str = "text/plain"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Instance", name)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--startup-s", type=float, default=0.0,
                   help="wait this long before listening (to emulate a container's start-up time)")
    args = p.parse_args()
    time.sleep(max(0.0, args.startup_s))
    volume = StateVolume()
    ready = threading.Event()
    name = os.environ.get("POD_NAME") or os.uname().nodename
    server = ThreadingHTTPServer((args.bind, args.port), make_handler(volume, ready, name))
    server.block_on_close = True
    source = os.environ.get("KRIOS_STATE_FROM")
    if source:
        try:
            added = volume.pull(source)
            print(f"pulled {added} updates ({volume.pulled_bytes} B) from {source} in {volume.pull_seconds:.3f} s",
                  flush=True)
        except OSError as exc:   # the old instance is gone: start from the local volume
            print(f"state pull from {source} failed: {exc}", flush=True)
    ready.set()

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
