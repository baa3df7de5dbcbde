"""A Krios handover under a fault on the live emulation (needs root; run under the live lock).

The San Francisco zone of ``test_live_handover``, agents on three satellites only, an app that takes 5 s to start (the
paper's t_i) and a long lead (40 s), so that the whole handover happens while the old
instance is still in the zone. The moment the controller's first successor is bound
to a satellite, that satellite is killed (its software stopped and every link cut,
through :meth:`leonet.api.LeoNet.fault`). Checked: the successor is given up and
another satellite is tried, the old instance keeps serving until a successor is
Ready and the clients were switched to it, the clients never see a failed request,
and the app ends with exactly one Ready instance, on a satellite in the zone.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import yaml

from leonet.krios.manager import ZoneManager
from leonet.krios.zones import Zone
from leonet.orbits import build_constellation, parse_scenario

from .test_live_handover import BASE, CLIENTS, ROOT, SF, web_pod

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

LEAD_S = 40.0
ZONE = Zone("sf", *SF, 100.0, 25.0)


def plan_moment(c):
    """A start offset, a satellite ``s`` in the region that leaves it 60-200 s later, and
    two satellites that are not in the region at the start but are throughout the
    handover window (the lead before the exit): with agents on these three only, the
    app starts on ``s``, its first successor goes to one of the two (killed), the
    second successor to the other."""
    m = ZoneManager(c)
    for t in np.arange(600.0, 12 * 3600.0, 20.0):
        now = {int(x) for x in m.members(ZONE, t)}
        for s in now:
            exit_s = m.exit_time(ZONE, s, t)
            if not 60 < exit_s - t < 200:
                continue
            window = np.arange(exit_s - LEAD_S, exit_s - 4.0, 2.0)
            stay = [int(x) for x in m.members(ZONE, exit_s - LEAD_S)
                    if int(x) not in now and all(m.margin(ZONE, int(x), window) >= 0)]
            if len(stay) >= 2:
                return float(t), s, exit_s, stay[:2]
    pytest.skip("no suitable moment in twelve hours")


def web_pod_slow() -> dict:
    pod = web_pod()
    pod["spec"]["containers"][0]["command"] += ["--startup-s", "5"]
    return pod


def test_successor_satellite_killed_during_make_before_break(tmp_path):
    from leonet.api import LeoNet
    from leonet.krios.service import KriosService
    c = build_constellation(parse_scenario(BASE))
    start, leaving, exit_s, others = plan_moment(c)
    agents = [c.satellites[k].name for k in [leaving, *others]]
    raw = dict(BASE, krios={**BASE["krios"], "lead_s": LEAD_S, "init_s": 5}, controlplane={
        "ground_stations": ["Control"], "node_monitor_period": 1, "node_monitor_grace_period": 20,
        "agents": {"satellites": agents, "process": "inline", "lease_duration_seconds": 20, "renew_interval": 2,
                   "status_update_frequency": 2}})
    path = tmp_path / "krios-fault.yaml"
    path.write_text(yaml.safe_dump(raw))

    with LeoNet(str(path), clock="manual", backend="nfqueue", offset_s=start, progress=False) as net:
        net.cluster.wait_registered(120)
        krios = KriosService.of(net.run)
        loop = asyncio.new_event_loop()
        conn = net.cluster.connection("Control")

        def call(coro, timeout=60.0):
            return loop.run_until_complete(asyncio.wait_for(coro, timeout))

        def pods():
            return call(conn.list("v1", "pods", "default"))["items"]

        def ready(p):
            return any(x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions") or [])

        try:
            call(conn.create("v1", "pods", web_pod_slow(), namespace="default"))
            deadline = time.monotonic() + 60
            while not any(ready(p) for p in pods()):
                assert time.monotonic() < deadline, "web never Ready"
                time.sleep(0.2)
            assert pods()[0]["spec"]["nodeName"] == c.satellites[leaving].name

            ticker = threading.Thread(target=net.controller.run, args=(exit_s - start + 20.0,), daemon=True)
            ticker.start()
            logs, procs = [], []
            for gs in CLIENTS:
                out = tmp_path / f"client-{gs}.jsonl"
                logs.append(out)
                procs.append(subprocess.Popen(["ip", "netns", "exec", net.run.node(gs).netns, sys.executable,
                                               str(ROOT / "apps" / "krios" / "client.py"), "--client", gs,
                                               "--target", "web=http://web.default.krios.leonet:8080/",
                                               "--interval", "0.25", "--out", str(out)]))
            killed, kill_wall = None, None
            try:
                deadline = time.monotonic() + exit_s - start + 30
                while killed is None and time.monotonic() < deadline:   # the first successor, once bound
                    for p in pods():
                        node = p["spec"].get("nodeName")
                        if p["metadata"]["name"] != "web" and node and not ready(p):
                            net.fault("kill", node)
                            killed, kill_wall = node, time.time()
                            break
                    time.sleep(0.1)
                assert killed, "the controller never created a successor"
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline and not krios.handovers():
                    time.sleep(0.5)
                time.sleep(3.0)
            finally:
                for p in procs:
                    p.terminate()
                    p.wait(10)
                net.controller.stop()
                ticker.join(10)
            final = pods()
        finally:
            call(conn.close())
            loop.close()

    handovers = krios.handovers()
    assert len(handovers) == 1, handovers
    h = handovers[0]
    assert h["outcome"] == "done", h
    assert h["failed_nodes"] == [killed]
    assert h["new_node"] not in (killed, h["old_node"])
    # make before break: the old instance went only after the second successor was Ready and took the traffic
    assert kill_wall < h["wall"]["ready"] < h["wall"]["switched"] < h["wall"]["deleted"]
    new_sat = c.satellite(h["new_node"]).index
    assert ZoneManager(c).margin(ZONE, new_sat, h["switched_s"])[0] >= 0
    assert h["switched_s"] < h["exit_s"]       # all of it while the old host was still in the zone
    # the app ends served: one instance, Ready, the successor
    assert [(p["metadata"]["name"], ready(p)) for p in final] == [(h["new_pod"], True)]
    # nothing lost: every request of every client was answered, the last ones by the successor
    rows = [json.loads(line) for f in logs for line in f.read_text().splitlines()]
    failed = [r for r in rows if not r["ok"]]
    assert not failed, failed[:3]
    last = {r["client"]: r for r in sorted(rows, key=lambda r: r["t_offset"])}
    assert {r["instance"] for r in last.values()} == {h["new_pod"]}
    print(f"\n{len(rows)} requests, 0 failed; killed {killed} under the first successor; "
          f"{h['old_node']} -> {h['new_node']} {h['exit_s'] - h['switched_s']:.1f} s before the exit")
