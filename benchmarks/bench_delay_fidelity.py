"""Delay fidelity of the shaping backends: measured RTT minus expected, over >= 1,000
pings on a single link and on a multi-hop chain while the delays change every second
(slow drift plus handover-like jumps), the daemon's CPU, the bring-up cost for many
namespaces and the throughput of the userspace path.

    sudo .venv/bin/python benchmarks/bench_delay_fidelity.py [--pings 1200]
        [--namespaces 500] [--backend auto|nfqueue|netem|both]

The expected RTT follows each packet through the link ends: the delay of an end is the
one in force when the packet reaches it (changes are timestamped when applied).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import describe  # noqa: E402
from leonet.emulation.shaping.base import LinkParams  # noqa: E402
from leonet.emulation.shaping.probe import Prober  # noqa: E402
from leonet.emulation.shaping.scratch import ScratchNet  # noqa: E402

End = Tuple[str, str]


def quantiles(values: Sequence[float]) -> Dict[str, float]:
    v = sorted(values)
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]  # noqa: E731
    absv = sorted(abs(x) for x in v)
    return {"n": len(v), "p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": v[-1], "min": v[0],
            "abs_p99": absv[min(len(v) - 1, int(0.99 * len(v)))],
            "within_1ms": sum(a <= 1.0 for a in absv) / len(v),
            "within_0.2ms": sum(a <= 0.2 for a in absv) / len(v)}


class Schedule:
    """Per-end delays over time: a random walk of +-0.3 ms per second and a jump of
    3-8 ms (a handover) every 5 s, between 2 and 25 ms."""

    def __init__(self, ends: Sequence[End], seed: int) -> None:
        self.rng = random.Random(seed)
        self.ends = list(ends)
        # both ends of link k ("v{k}a", "v{k}b") share its delay
        self.delay = {link: self.rng.uniform(4.0, 15.0) for link in sorted({e[1][:-1] for e in ends})}
        self.log: List[Tuple[float, Dict[End, float]]] = []
        self.step = 0

    def current(self) -> Dict[End, float]:
        return {end: self.delay[end[1][:-1]] for end in self.ends}

    def advance(self) -> Dict[End, float]:
        self.step += 1
        for k in self.delay:
            d = self.delay[k] + self.rng.uniform(-0.3, 0.3)
            if self.step % 5 == 0:
                d += self.rng.choice((-1, 1)) * self.rng.uniform(3.0, 8.0)
            self.delay[k] = min(25.0, max(2.0, d))
        return self.current()

    def at(self, end: End, t: float) -> float:
        value = self.log[0][1][end]
        for when, delays in self.log:
            if when > t:
                break
            value = delays[end]
        return value


def expected_rtts(schedule: Schedule, path: Sequence[End], sent: Sequence[float]) -> List[float]:
    """Walk each ping through the ends of ``path`` from its send time (monotonic s).
    An end releases in FIFO order, as both backends do: a packet leaves at
    ``max(arrival + delay, previous packet's departure)``, so after a delay decrease
    packets queue behind earlier ones instead of overtaking them."""
    last = {end: 0.0 for end in path}
    out = []
    for t0 in sent:
        t = t0
        for end in path:
            t = max(t + schedule.at(end, t) / 1000.0, last[end])
            last[end] = t
        out.append((t - t0) * 1000.0)
    return out


def fidelity_run(shaper, net: ScratchNet, path: Sequence[End], src: int, dst: str,
                 pings: int, interval_s: float, seed: int) -> Dict:
    ends = net.ends()
    schedule = Schedule(ends, seed)
    delays = schedule.current()
    shaper.attach([(end, LinkParams(delays[end])) for end in ends])
    schedule.log.append((0.0, delays))
    per_tick = int(round(1.0 / interval_s))
    cpu0 = _daemon_cpu(shaper)
    with Prober(net.names[src]) as probe:
        probe.run(dst, 20, 0.005)

        def on_send(i: int) -> None:
            if i and i % per_tick == 0:
                new = schedule.advance()
                shaper.update([(end, LinkParams(new[end])) for end in ends])
                schedule.log.append((time.monotonic(), new))

        t0 = time.monotonic()
        result = probe.run(dst, pings, interval_s, on_send=on_send)
        wall = time.monotonic() - t0
    cpu = _daemon_cpu(shaper) - cpu0
    expected = expected_rtts(schedule, path, result.sent_at)
    errs = [rtt - exp for rtt, exp in zip(result.rtt_ms, expected) if rtt is not None]
    shaper.release_namespaces(net.names)
    return {"errors_ms": quantiles(errs), "lost": result.lost, "reordered": result.reordered,
            "daemon_cpu_pct": None if cpu is None else 100.0 * cpu / wall,
            "changes": len(schedule.log) - 1}


def _daemon_cpu(shaper):
    stats = getattr(shaper, "stats", None)
    return stats()["cpu_s"] if stats else None


def plain_rtt(net: ScratchNet, dst: str) -> Dict:
    with Prober(net.names[0]) as probe:
        probe.run(dst, 10, 0.005)
        return quantiles(probe.run(dst, 300, 0.005).received)


def bring_up(make, n_namespaces: int) -> Dict:
    pairs = n_namespaces // 2
    t0 = time.perf_counter()
    net = ScratchNet.pairs(f"bench-up{os.getpid()}", pairs).create()
    created = time.perf_counter() - t0
    try:
        shaper = make()
        try:
            t1 = time.perf_counter()
            shaper.attach([(end, LinkParams(5.0)) for end in net.ends()])
            attach_s = time.perf_counter() - t1
            t2 = time.perf_counter()
            shaper.update([(end, LinkParams(6.0)) for end in net.ends()])
            update_s = time.perf_counter() - t2
            stats = shaper.stats() if hasattr(shaper, "stats") else {}
            t3 = time.perf_counter()
        finally:
            shaper.close()
        close_s = time.perf_counter() - t3
    finally:
        net.destroy()
    return {"namespaces": 2 * pairs, "link_ends": 2 * pairs, "scratch_net_s": created, "attach_s": attach_s,
            "update_all_s": update_s, "close_s": close_s, "daemon_rss_mb": stats.get("max_rss_kb", 0) / 1024}


def throughput(shaper_factory, delay_ms: float) -> Dict:
    if shutil.which("iperf3") is None:
        return {"skipped": "iperf3 not installed"}
    out = {}
    with ScratchNet.pairs(f"bench-tp{os.getpid()}", 1) as net:
        dst = net.address(0, "b")
        for label, make in (("unshaped", None), ("shaped", shaper_factory)):
            shaper = make() if make else None
            if shaper:
                shaper.attach([(end, LinkParams(delay_ms)) for end in net.ends()])
                cpu0 = _daemon_cpu(shaper)
            server = subprocess.Popen(["ip", "netns", "exec", net.names[1], "iperf3", "-s", "-1", "-B", dst],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(10):  # until the server listens
                time.sleep(0.3)
                res = subprocess.run(["ip", "netns", "exec", net.names[0], "iperf3", "-c", dst, "-t", "3", "-J"],
                                     capture_output=True, text=True, timeout=60)
                if res.returncode == 0:
                    break
            server.kill()
            server.wait(timeout=10)
            try:
                data = json.loads(res.stdout)
                entry = {"mbps": data["end"]["sum_received"]["bits_per_second"] / 1e6,
                         "retransmits": data["end"]["sum_sent"].get("retransmits")}
            except (ValueError, KeyError):
                entry = {"error": (res.stdout + res.stderr)[-200:]}
            if shaper:
                entry["daemon_cpu_pct"] = 100.0 * (_daemon_cpu(shaper) - cpu0) / 3.0
                shaper.close()
            out[label] = entry
    return out


def run_backend(name: str, make, args) -> Dict:
    report: Dict = {"backend": name}
    shaper = make()
    report["calibrated_overhead_ms"] = getattr(shaper, "overhead_ms", None)
    try:  # fidelity first, printed as soon as measured

        with ScratchNet.pairs(f"bench-1h{os.getpid()}", 1) as net:
            dst = net.address(0, "b")
            report["plain_rtt_ms"] = plain_rtt(net, dst)
            report["single_link"] = fidelity_run(shaper, net, [net.end(0, "a"), net.end(0, "b")], 0, dst,
                                                 args.pings, 0.005, seed=1)
            print(f"[{name}] single link: error ms {_fmt(report['single_link']['errors_ms'])}", flush=True)
        hops = 4
        with ScratchNet.chain(f"bench-ch{os.getpid()}", hops + 1) as net:
            path = [net.end(k, "a") for k in range(hops)] + [net.end(k, "b") for k in reversed(range(hops))]
            report["chain_4_hops"] = fidelity_run(shaper, net, path, 0, net.address(hops - 1, "b"),
                                                  args.pings, 0.005, seed=2)
            print(f"[{name}] 4-hop chain: error ms {_fmt(report['chain_4_hops']['errors_ms'])}", flush=True)
    finally:
        shaper.close()
    # each part stands alone: on a shared machine another session's cleanup may kill it
    parts = [("bring_up", lambda: bring_up(lambda: make(calibrate_ok=False), args.namespaces)),
             ("throughput_5ms", lambda: throughput(lambda: make(calibrate_ok=False), 5.0))]
    if name == "nfqueue":
        parts.append(("throughput_5ms_ingress",
                      lambda: throughput(lambda: make(calibrate_ok=False, hold_at="ingress"), 5.0)))
    for key, fn in parts:
        try:
            report[key] = fn()
        except Exception as exc:  # noqa: BLE001 - report and go on
            report[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pings", type=int, default=1200)
    parser.add_argument("--namespaces", type=int, default=500)
    parser.add_argument("--backend", default="both", choices=["both", "nfqueue", "netem"])
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    from leonet.emulation.shaping.netem import NetemShaper, netem_available
    from leonet.emulation.shaping.nfqueue import NfqueueShaper

    print(f"machine: {describe()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (shared machine: timings are noisy)")
    reports = []
    if args.backend in ("both", "nfqueue"):
        reports.append(run_backend("nfqueue", lambda calibrate_ok=True, **kw: NfqueueShaper(calibrate=calibrate_ok, **kw),
                                   args))
    if args.backend in ("both", "netem"):
        if netem_available():
            reports.append(run_backend("netem", lambda calibrate_ok=True: NetemShaper(), args))
        else:
            print("netem: unavailable on this kernel (no sch_netem); not measured")
    for rep in reports:
        print(f"\n== {rep['backend']} (calibrated per-hop overhead: {rep['calibrated_overhead_ms']})")
        print(f"unshaped veth RTT ms: {_fmt(rep['plain_rtt_ms'])}")
        for key in ("single_link", "chain_4_hops"):
            r = rep[key]
            cpu = r["daemon_cpu_pct"]
            print(f"{key}: error ms {_fmt(r['errors_ms'])}; lost {r['lost']}, reordered {r['reordered']}, "
                  f"{r['changes']} delay changes; daemon CPU {'-' if cpu is None else f'{cpu:.1f} %'}")
        b = rep["bring_up"]
        if "error" in b:
            print(f"bring-up: failed: {b['error']}")
        else:
            print(f"bring-up: {b['namespaces']} namespaces / {b['link_ends']} link ends: attach {b['attach_s']:.2f} s, "
                  f"update all {b['update_all_s'] * 1000:.0f} ms, close {b['close_s']:.2f} s, "
                  f"daemon RSS {b['daemon_rss_mb']:.0f} MB (scratch network itself: {b['scratch_net_s']:.1f} s)")
        print(f"throughput (1 TCP flow, 5 ms links): {rep['throughput_5ms']}")
        if "throughput_5ms_ingress" in rep:
            print(f"throughput, nfqueue holding at ingress: {rep['throughput_5ms_ingress']}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": describe(), "reports": reports}, fh, indent=1)
    return 0


def _fmt(q: Dict) -> str:
    return (f"p50 {q['p50']:+.3f} p95 {q['p95']:+.3f} p99 {q['p99']:+.3f} max {q['max']:+.3f} "
            f"min {q['min']:+.3f} |err|<=1ms {100 * q['within_1ms']:.1f} % "
            f"|err|<=0.2ms {100 * q['within_0.2ms']:.1f} % (n={q['n']})")


if __name__ == "__main__":
    sys.exit(main())
