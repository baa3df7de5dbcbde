"""Bulk copies over emulated links reach the link rate (issue 15's slow replication).

A bulk TCP transfer (iperf3) between two satellites' namespaces, as Komet's Redis
replication does, once between direct neighbours (one ISL) and once across several
hops, on links of 200 Mbit/s with the nfqueue backend. After TCP's slow start (the
first 2 s: this scenario's RTTs are 30-125 ms) each must carry at least
:data:`FRACTION` of the link rate (docs/shaping.md states it), and TCP's own minimum
RTT must show each link's delay once per direction, neither skipped nor doubled. Before holding a neighbour's own TCP at the receiver's ingress, the
neighbour copy ran at a few Mbit/s: held at the sender's egress, its packets still
counted against the socket and TCP small queues throttled it.
"""
import json
import subprocess
import time

import yaml

from conftest import require_binary, require_root
from leonet.emulation.run import EmulationRun

from . import scenarios

RATE_MBPS = 200.0
#: the stated fraction of the link rate a single bulk TCP copy reaches
FRACTION = 0.8
SCENARIO = dict(scenarios.TINY, name="bulk",
                defaults={"min_elevation_deg": 10, "gsl_bandwidth_mbps": RATE_MBPS, "isl_bandwidth_mbps": RATE_MBPS})


def _copy(run, src: str, dst: str, seconds: int = 3, omit: int = 2) -> dict:
    server_node, client_node = run.node(dst), run.node(src)
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{server_node.netns}", "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        out = subprocess.run(["nsenter", f"--net=/run/netns/{client_node.netns}", "iperf3", "-c",
                              server_node.address, "-t", str(seconds), "-O", str(omit), "-J"],
                             capture_output=True, text=True, timeout=60)
    finally:
        server.kill()
        server.wait()
    assert out.returncode == 0, out.stdout[-500:] + out.stderr[-500:]
    end = json.loads(out.stdout)["end"]
    return {"mbps": end["sum_received"]["bits_per_second"] / 1e6,
            "min_rtt_ms": end["streams"][0]["sender"]["min_rtt"] / 1000.0}


def test_bulk_copies_between_satellites_reach_the_link_rate(tmp_path):
    require_root()
    require_binary("iperf3")
    path = tmp_path / "bulk.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    run = EmulationRun.from_scenario(str(path), backend="nfqueue")
    snap = run.engine.snapshot(0.0)
    src = "s0p0n0"
    pairs = [(hops, next(n for n in snap.nodes.names[:snap.nodes.num_satellites]
                         if n != src and len(snap.path(src, n).hops) - 1 == hops)) for hops in (1, 4)]
    results = []
    with run:
        run.start()
        for hops, dst in pairs:
            result = _copy(run, src, dst)
            results.append((hops, dst, 2 * snap.path(src, dst).delay_ms, result))
    summary = "; ".join(f"{src} -> {dst} ({hops} hops): {r}, expected RTT {rtt:.2f} ms"
                        for hops, dst, rtt, r in results)
    for hops, dst, expected_rtt, result in results:
        assert result["mbps"] >= FRACTION * RATE_MBPS, summary
        assert abs(result["min_rtt_ms"] - expected_rtt) <= 1.0 + 0.1 * expected_rtt, summary
