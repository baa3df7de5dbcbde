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
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httpapp import Handler, add_server_args, make_server, serve, startup  # noqa: E402
from statevolume import StateVolume  # noqa: E402


def make_handler(volume: StateVolume, ready: threading.Event):
    class Heartbeat(Handler):
        server_version = "krios-heartbeat"

        def do_GET(self):
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if parts == ["healthz"]:
                return self.send(200 if ready.is_set() else 503, b"ok\n" if ready.is_set() else b"pulling\n")
            if parts == ["krios", "state"]:
                return self.send(200, volume.export(), "application/json")
            if len(parts) == 2 and parts[0] == "hb":
                return self.send(200, json.dumps(sorted(volume.seen.get(parts[1], ()))).encode(), "application/json")
            return self.send(404, b"not found\n")

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 3 and parts[0] == "hb" and parts[2].isdigit():
                return self.send(200, str(volume.add(parts[1], int(parts[2]))).encode())
            if parts == ["krios", "state", "pull"]:
                source = os.environ.get("KRIOS_STATE_FROM")
                if not source:
                    return self.send(409, b"no KRIOS_STATE_FROM\n")
                try:
                    added = volume.pull(source)
                except OSError as exc:
                    return self.send(502, f"{exc}\n".encode())
                return self.send(200, json.dumps({"added": added}).encode(), "application/json")
            return self.send(404, b"not found\n")

    return Heartbeat


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_args(p, 8090)
    args = p.parse_args()
    startup(args)
    volume = StateVolume()
    ready = threading.Event()
    server = make_server(args, make_handler(volume, ready))
    source = os.environ.get("KRIOS_STATE_FROM")
    if source:
        try:
            added = volume.pull(source)
            print(f"pulled {added} updates ({volume.pulled_bytes} B) from {source} in {volume.pull_seconds:.3f} s",
                  flush=True)
        except OSError as exc:   # the old instance is gone: start from the local volume
            print(f"state pull from {source} failed: {exc}", flush=True)
    ready.set()
    return serve(server)


if __name__ == "__main__":
    sys.exit(main())
