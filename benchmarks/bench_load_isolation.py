"""Delay fidelity under traffic (issue 18): does bulk traffic on one path change the
delay of a path that shares no link with it, how much of the configured bandwidth
does TCP get over 10+ hops, and when does the nfqueue backend report overload?

    sudo python benchmarks/bench_load_isolation.py [--part issue|sweep|all]
        [--implementations python,c[,netem]] [--seconds 20] [--json results/bench/load.json]

Part ``issue``: the issue's experiment on the ``demo`` preset (Starlink shell 1,
links at 1,000 Mbit/s), with each nfqueue daemon (``python``: the original
single-threaded one, the baseline; ``c``: the compiled one; ``netem``: the kernel's
qdisc instead, for parity, where the kernel has sch_netem) in its own run. At an
emulated time where Berlin-Madrid and New-York-Sao-Paulo share no link for the whole
measurement, iperf3 Berlin -> Madrid with 1 and with 4 flows while New-York pings
Sao-Paulo every 20 ms; the ping error is measured RTT minus the engine's expected RTT.
Then both pairs at once, one flow each (fair sharing between disjoint paths). Also:
the backend's CPU and what its health monitor reported.

Part ``sweep``: a chain of namespaces (no bandwidth limit, 1 ms per link end) with
the compiled daemon: UDP at offered loads from 10 Mbit/s to 2 Gbit/s and TCP with 1 and
4 flows, per path length; pings on the same path measure the delay error (with no
bandwidth limit there is no queue, so any error is the backend's), and the health
monitor's verdict shows where overload is reported. Capacity = the highest offered
load carried without loss or an overload report.

Part ``bulk`` (issue 15's slow replication): on Komet's live scenario (one plane of
shell 1, links at 10 Gbit/s), a fixed-size TCP copy (iperf3 ``-n``) between direct
neighbour satellites and across several hops, and Redis replication (Debian's
redis-server, a replica of a primary holding ``--redis-mb`` of data, timed until the
replica is in sync) between neighbours, as Komet's keygroups replicate.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from leonet.emulation.run import EmulationRun  # noqa: E402
from leonet.emulation.shaping.base import LinkParams  # noqa: E402
from leonet.emulation.shaping.factory import resolve_backend  # noqa: E402
from leonet.emulation.shaping.health import ShaperMonitor, _diff, _quantile_ms  # noqa: E402
from leonet.emulation.shaping.nfqueue import NfqueueShaper  # noqa: E402
from leonet.emulation.shaping.probe import Prober  # noqa: E402
from leonet.emulation.shaping.scratch import ScratchNet  # noqa: E402
from leonet.emulation.validation import RttProbe  # noqa: E402

LOADED_PAIR = ("Berlin", "Madrid")
PROBED_PAIR = ("New-York", "Sao-Paulo")


def q(values: Sequence[float], p: float) -> Optional[float]:
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))] if v else None


def err_summary(errors: Sequence[float], lost: int = 0) -> Dict:
    return {"n": len(errors), "lost": lost, "p25": q(errors, 0.25), "p50": q(errors, 0.5), "p95": q(errors, 0.95),
            "p99": q(errors, 0.99), "max": max(errors) if errors else None}


def fmt_err(e: Dict) -> str:
    if not e["n"]:
        return "no samples"
    return (f"p25 {e['p25']:+.2f}  p50 {e['p50']:+.2f}  p99 {e['p99']:+.2f}  max {e['max']:+.2f} ms "
            f"(n={e['n']}, lost {e['lost']})")


def udp_counters(ns: str) -> Dict[str, int]:
    """A namespace's UDP counters (``/proc/net/snmp``, e.g. RcvbufErrors: datagrams its
    sockets dropped because the receiver did not read them in time)."""
    text = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "cat", "/proc/net/snmp"],
                          capture_output=True, text=True, check=True).stdout
    rows = [line.split()[1:] for line in text.splitlines() if line.startswith("Udp:")]
    return dict(zip(rows[0], map(int, rows[1]))) if len(rows) == 2 else {}


def iperf3(client_ns: str, server_ns: str, address: str, seconds: float, flows: int = 1,
           udp_mbps: Optional[float] = None, length: int = 1400) -> Dict:
    """One iperf3 measurement between two namespaces (server started and ended here).
    For UDP, the loss is split into what the receiving socket dropped (the iperf3
    server did not read in time: the end host, not the emulated path) and the rest."""
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{server_ns}", "iperf3", "-s", "-1", "-B", address],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmd = ["nsenter", f"--net=/run/netns/{client_ns}", "iperf3", "-c", address, "-t", str(int(seconds)),
           "-P", str(flows), "-J"]
    if udp_mbps is not None:
        cmd += ["-u", "-b", f"{udp_mbps}M", "-l", str(length)]
        received0 = udp_counters(server_ns)
    try:
        for _ in range(20):  # until the server listens
            time.sleep(0.25)
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
            if res.returncode == 0 or "unable to connect" not in res.stdout + res.stderr:
                break
    finally:
        server.kill()
        server.wait(timeout=10)
    try:
        data = json.loads(res.stdout)
    except ValueError:
        return {"error": (res.stdout + res.stderr)[-300:]}
    if "error" in data:
        return {"error": data["error"]}
    end = data["end"]
    if udp_mbps is not None:
        s = end["sum"]
        received1 = udp_counters(server_ns)
        socket_drops = received1.get("RcvbufErrors", 0) - received0.get("RcvbufErrors", 0)
        packets = max(1, int(s.get("packets", 0)))
        return {"mbps": s["bits_per_second"] / 1e6 * (1 - s.get("lost_percent", 0) / 100.0),
                "sent_mbps": s["bits_per_second"] / 1e6, "lost_percent": s.get("lost_percent", 0.0),
                "lost_at_receiver_percent": 100.0 * socket_drops / packets}
    per_second = [round(i["sum"]["bits_per_second"] / 1e6) for i in data["intervals"]]
    senders = [st["sender"] for st in end.get("streams", []) if "sender" in st]
    return {"mbps": end["sum_received"]["bits_per_second"] / 1e6,
            "steady_mbps": statistics.median(per_second[1:]) if len(per_second) > 2 else None,
            "retransmits": end["sum_sent"].get("retransmits"), "per_second": per_second,
            "min_rtt_ms": min((x.get("min_rtt", 0) for x in senders), default=0) / 1000.0,
            "mean_rtt_ms": statistics.mean(x.get("mean_rtt", 0) for x in senders) / 1000.0 if senders else None}


# ---------------------------------------------------------------------- part 1: the issue's experiment
def disjoint_window(run: EmulationRun, seconds: float, min_hops: int = 10) -> Tuple[float, int, int]:
    """An emulated offset from which, for ``seconds``, the loaded and the probed path
    share no link and the loaded one has at least ``min_hops`` hops."""
    engine = run.engine

    def links(p):
        return {frozenset(x) for x in zip(p.hops[:-1], p.hops[1:])}

    off = 0.0
    while off < 6 * 3600:
        ok, first = True, None
        for t in range(0, int(seconds) + 1):
            snap = engine.snapshot(off + t)
            a, b = snap.path(*LOADED_PAIR), snap.path(*PROBED_PAIR)
            if not (a.reachable and b.reachable) or links(a) & links(b) or len(a.hops) - 1 < min_hops:
                ok = False
                off += t + 1
                break
            first = first or (len(a.hops) - 1, len(b.hops) - 1)
        if ok:
            return off, first[0], first[1]
    raise RuntimeError("no window where the two paths are disjoint")


def machine_busy() -> Tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


def process_times(pid: int) -> Tuple[float, float]:
    """(user, system) CPU seconds of a process, all threads."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def daemon_cpu(shaper) -> float:
    """CPU seconds of the backend's daemon so far (0 for netem: the kernel does the work,
    charged to no process)."""
    counters = shaper.health_counters()
    return float(counters["cpu_s"]) if counters else 0.0


def phase_counters(before: Optional[Dict], after: Optional[Dict]) -> Dict:
    """What the daemon measured about itself between two ``stats()`` readings: quantiles
    (ms) of hop-to-hop transit, of the waits it made up, and of release lateness."""
    if not before or not after:
        return {}
    out: Dict = {}
    for name, key in (("transit", "transit_hist"), ("made_up_wait", "wait_hist"), ("late", "late_hist")):
        hist = _diff(after.get(key), before.get(key))
        out[name] = {p: _quantile_ms(hist, x) for p, x in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
    for key in ("packets", "anchored", "absorbed", "behind"):
        out[key] = int(after.get(key, 0)) - int(before.get(key, 0))
    return out


def fmt_counters(c: Dict) -> str:
    if not c:
        return "-"
    def f(d):
        return "/".join("-" if d[p] is None else f"{d[p]:.2f}" for p in ("p50", "p90", "p99"))
    return (f"transit p50/p90/p99 {f(c['transit'])} ms, made-up wait {f(c['made_up_wait'])} ms, "
            f"lateness {f(c['late'])} ms; {c['packets']:,} packet-hops, {c['absorbed']:,} waits made up, "
            f"{c['behind']:,} past due on arrival")


def issue_experiment(implementation: str, seconds: float) -> Dict:
    if implementation == "netem":  # parity: the same flows on the kernel's qdisc
        run = EmulationRun.from_scenario("demo", backend="netem")
    else:
        run = EmulationRun.from_scenario("demo", backend="nfqueue",
                                         nfqueue_daemon=implementation.replace("-keep-waits", ""))
    window = 15 + 3 * (seconds + 5) + 10
    offset, hops_loaded, hops_probed = disjoint_window(run, window)
    run.config = run.config.with_overrides(offset_s=offset)
    out: Dict = {"implementation": implementation, "offset_s": offset, "hops_loaded": hops_loaded,
                 "hops_probed": hops_probed}
    with run:
        t0 = time.perf_counter()
        run.start()
        out["bring_up_s"] = time.perf_counter() - t0
        if implementation == "c-keep-waits":  # the previous anchoring: every hop-to-hop wait is kept
            run.shaper.set_absorb_waits(False)
        ticker = threading.Thread(target=run.controller.run, args=(window + 30,), daemon=True)
        ticker.start()
        a, b = (run.node(n) for n in LOADED_PAIR)

        def probe(duration: float):
            p = RttProbe(run, [PROBED_PAIR], duration, interval_s=0.02)
            p.start()
            return p

        def errors(samples):
            errs = [s.error_ms for s in samples if s.error_ms is not None and not s.straddles]
            lost = sum(1 for s in samples if s.measured_ms is None and s.expected_ms is not None)
            return err_summary(errs, lost)

        out["idle"] = errors(probe(10.0).wait())
        print(f"[{implementation}] {hops_loaded}-hop loaded path, {hops_probed}-hop probed path (no shared link); "
              f"idle ping error: {fmt_err(out['idle'])}", flush=True)
        for flows in (1, 4):
            cpu0, w0 = daemon_cpu(run.shaper), time.monotonic()
            st0 = run.shaper.health_counters()
            m0 = machine_busy()
            episodes0 = len(run.shaper_health().episodes)
            p = probe(seconds + 1.0)
            tcp = iperf3(a.netns, b.netns, b.address, seconds, flows)
            samples = p.wait()
            cpu = (daemon_cpu(run.shaper) - cpu0) / (time.monotonic() - w0)
            m1 = machine_busy()
            health = run.shaper_health()
            out[f"flows_{flows}"] = {"tcp": tcp, "ping": errors(samples), "daemon_cpu_cores": cpu,
                                     "machine_busy": (m1[0] - m0[0]) / max(1.0, m1[1] - m0[1]),
                                     "daemon": phase_counters(st0, run.shaper.health_counters()),
                                     "overload_episodes": [e.describe() for e in health.episodes[episodes0:]]}
            r = out[f"flows_{flows}"]
            print(f"[{implementation}] iperf3 {flows} flow(s): {tcp.get('mbps', 0):.0f} Mbit/s, "
                  f"after the first second (median) {tcp.get('steady_mbps') or 0:.0f} "
                  f"(per second {tcp.get('per_second')}), retransmits {tcp.get('retransmits')}; "
                  f"daemon CPU {cpu:.2f} cores; unrelated-path ping error {fmt_err(r['ping'])}; "
                  f"overload reported: {r['overload_episodes'] or 'no'}; machine {100 * r['machine_busy']:.0f} % busy; "
                  f"daemon saw: {fmt_counters(r['daemon'])}", flush=True)
        # several flows on disjoint paths at once: the two pairs, one flow each
        cpu0, w0 = daemon_cpu(run.shaper), time.monotonic()
        st0, episodes0 = run.shaper.health_counters(), len(run.shaper_health().episodes)
        pairs = [LOADED_PAIR, PROBED_PAIR]
        results: Dict[str, Dict] = {}

        def transfer(pair):
            x, y = (run.node(n) for n in pair)
            results["-".join(pair)] = iperf3(x.netns, y.netns, y.address, seconds, 1)
        threads = [threading.Thread(target=transfer, args=(p,)) for p in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rates = [r.get("mbps", 0.0) for r in results.values()]
        jain = sum(rates) ** 2 / (len(rates) * sum(r * r for r in rates)) if any(rates) else 0.0
        out["disjoint_pairs"] = {"tcp": results, "jain": jain,
                                 "daemon_cpu_cores": (daemon_cpu(run.shaper) - cpu0) / (time.monotonic() - w0),
                                 "daemon": phase_counters(st0, run.shaper.health_counters()),
                                 "overload_episodes": [e.describe()
                                                       for e in run.shaper_health().episodes[episodes0:]]}
        print(f"[{implementation}] two disjoint paths at once, 1 flow each: "
              + ", ".join(f"{k} {v.get('mbps', 0):.0f} Mbit/s (per second {v.get('per_second')}, retransmits "
                          f"{v.get('retransmits')}, RTT min/mean {v.get('min_rtt_ms') or 0:.1f}/"
                          f"{v.get('mean_rtt_ms') or 0:.1f} ms)" for k, v in results.items())
              + f"; Jain fairness {jain:.3f}; daemon CPU {out['disjoint_pairs']['daemon_cpu_cores']:.2f} cores; "
              f"overload reported: {out['disjoint_pairs']['overload_episodes'] or 'no'}; "
              f"daemon saw: {fmt_counters(out['disjoint_pairs']['daemon'])}", flush=True)
        run.controller.stop()
        ticker.join()
        out["controller"] = run.controller.stats.summary()
        out["health"] = run.shaper_health().summary()
    return out


# ---------------------------------------------------------------------- part 2: offered load sweep
class Chain:
    """``hops`` shaped links (1 ms per link end, no bandwidth limit) between a sender
    and a receiver, with the compiled daemon. The sender's and receiver's own links
    are not shaped, so every held packet is a forwarded one, held at egress as on a
    satellite: the sender's TCP is not throttled by its own held packets (docs/shaping.md,
    TCP small queues) and kernel receive timestamps see every hop."""

    def __init__(self, hops: int, implementation: str = "c") -> None:
        self.hops = hops
        self.net = ScratchNet.chain(f"bli{os.getpid()}", hops + 3).create()
        self.shaper = NfqueueShaper(hold_at="egress", implementation=implementation)
        self.shaper.attach([(self.net.end(k, s), LinkParams(1.0)) for k in range(1, hops + 1) for s in "ab"])
        self.expected_ms = 2.0 * hops
        self.dst = self.net.address(hops + 1, "b")

    def measure(self, seconds: float, **traffic) -> Dict:
        monitor = ShaperMonitor(self.shaper, interval_s=0.5)
        monitor.sample()
        stop = threading.Event()

        def sample_loop():
            while not stop.wait(0.5):
                monitor.sample()
        sampler = threading.Thread(target=sample_loop, daemon=True)
        sampler.start()
        cpu0, w0, st0, m0 = daemon_cpu(self.shaper), time.monotonic(), self.shaper.stats(), machine_busy()
        ut0 = process_times(self.shaper.daemon_pid)
        pings: List[float] = []
        lost = [0]

        def ping():
            with Prober(self.net.names[0]) as probe:
                time.sleep(0.5)
                r = probe.run(self.dst, int((seconds - 1.0) / 0.01), 0.01)
                pings.extend(x - self.expected_ms for x in r.received)
                lost[0] = r.lost
        pinger = threading.Thread(target=ping, daemon=True)
        pinger.start()
        result = iperf3(self.net.names[0], self.net.names[-1], self.dst, seconds, **traffic)
        pinger.join()
        wall = time.monotonic() - w0
        stop.set()
        sampler.join()
        monitor.sample()
        st1, m1, ut1 = self.shaper.stats(), machine_busy(), process_times(self.shaper.daemon_pid)
        hop_packets = max(1, st1["packets"] - st0["packets"])
        health = monitor.health()
        reasons = sorted({r for e in health.episodes for r in e.reasons})
        result.update({"ping": err_summary(pings, lost[0]), "daemon_cpu_cores": (daemon_cpu(self.shaper) - cpu0) / wall,
                       "packet_hops_per_s": (st1["packets"] - st0["packets"]) / wall,
                       "machine_busy": (m1[0] - m0[0]) / max(1.0, m1[1] - m0[1]),
                       "daemon_user_us_per_packet_hop": 1e6 * (ut1[0] - ut0[0]) / hop_packets,
                       "daemon_kernel_us_per_packet_hop": 1e6 * (ut1[1] - ut0[1]) / hop_packets,
                       "overload": bool(health.episodes), "reasons": reasons})
        return result

    def close(self) -> None:
        self.shaper.close()
        self.net.destroy()


def sweep(seconds: float, hop_counts: Sequence[int], rates: Sequence[float], implementation: str) -> List[Dict]:
    rows = []
    for hops in hop_counts:
        chain = Chain(hops, implementation)
        try:
            for flows in (1, 4):
                r = chain.measure(seconds, flows=flows)
                r.update({"hops": hops, "traffic": f"TCP x{flows}", "implementation": implementation})
                rows.append(r)
                print(_row(r), flush=True)
            reported = 0
            for rate in rates:
                r = chain.measure(seconds, udp_mbps=rate)
                r.update({"hops": hops, "traffic": f"UDP {rate:g} Mbit/s", "implementation": implementation})
                rows.append(r)
                print(_row(r), flush=True)
                reported += r["overload"]
                if reported >= 2:
                    break  # overload reported twice: higher loads only confirm it
        finally:
            chain.close()
    return rows


def _row(r: Dict) -> str:
    if "error" in r:
        return f"[{r['implementation']}] {r['hops']:>3} hops  {r['traffic']:<20} iperf3 failed: {r['error']}"
    loss = (f" of {r['sent_mbps']:.0f} sent, loss {r['lost_percent']:.1f} % "
            f"({r['lost_at_receiver_percent']:.1f} at the receiving socket)") if "lost_percent" in r else ""
    return (f"[{r['implementation']}] {r['hops']:>3} hops  {r['traffic']:<20} carried {r['mbps']:7.0f} Mbit/s{loss}; "
            f"{r['packet_hops_per_s']:9,.0f} packet-hops/s, daemon {r['daemon_cpu_cores']:.2f} cores "
            f"({r['daemon_user_us_per_packet_hop']:.1f} + {r['daemon_kernel_us_per_packet_hop']:.1f} us user + kernel "
            f"per packet-hop), "
            f"machine {100 * r['machine_busy']:.0f} % busy; "
            f"ping error p50 {r['ping']['p50'] if r['ping']['n'] else float('nan'):+.2f} "
            f"p99 {r['ping']['p99'] if r['ping']['n'] else float('nan'):+.2f} ms; "
            f"overload: {', '.join(r['reasons']) if r['overload'] else 'no'}")


# ---------------------------------------------------------------------- part 3: bulk copies (issue 15)
def redis_replication(primary, replica, megabytes: int, timeout_s: float = 300.0) -> Dict:
    """Time Redis's own replication of ``megabytes`` of data from ``primary`` to ``replica``
    (nodes of a live run): a primary filled with DEBUG POPULATE, then REPLICAOF until the
    replica reports the link up and no sync in progress."""
    import redis
    procs = []
    port = 26390
    try:
        for node in (primary, replica):
            procs.append(subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{node.netns}", "redis-server", "--port", str(port), "--bind",
                 node.address, "--save", "", "--appendonly", "no", "--protected-mode", "no",
                 "--enable-debug-command", "yes", "--dir", "/tmp", "--dbfilename", f"bli-{node.name}.rdb",
                 "--unixsocket", f"/tmp/bli-{node.name}.sock"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        clients = []
        for node in (primary, replica):
            # the benchmark talks to each server over its unix socket, as Komet's functions do (the host
            # is not on the emulated network); only the replication crosses the emulated links
            c = redis.Redis(unix_socket_path=f"/tmp/bli-{node.name}.sock", socket_timeout=30)
            for _ in range(100):
                try:
                    c.ping()
                    break
                except (redis.ConnectionError, FileNotFoundError):
                    time.sleep(0.1)
            clients.append(c)
        p, r = clients
        value = 10_000
        p.execute_command("DEBUG", "POPULATE", megabytes * 100, "k", value)
        t0 = time.monotonic()
        r.execute_command("REPLICAOF", primary.address, port)
        while time.monotonic() - t0 < timeout_s:
            info = r.info("replication")
            if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
                break
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        keys = r.dbsize()
        return {"megabytes": megabytes, "seconds": seconds, "keys": keys, "complete": keys == megabytes * 100,
                "mbps": megabytes * 8 / seconds}
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for node in (primary, replica):   # the socket, and the RDB a full resync writes (--dir /tmp)
            Path(f"/tmp/bli-{node.name}.sock").unlink(missing_ok=True)
            Path(f"/tmp/bli-{node.name}.rdb").unlink(missing_ok=True)


def bulk_experiment(megabytes: int, redis_mb: int) -> List[Dict]:
    run = EmulationRun.from_scenario(str(Path(__file__).resolve().parent.parent / "topologies" /
                                         "komet-live-cache.yaml"), backend="nfqueue")
    snap = run.engine.snapshot(run.config.offset_s)
    sats = snap.nodes.names[:snap.nodes.num_satellites]
    def at(src, hops):
        return next((n for n in sats if n != src and snap.path(src, n).reachable
                     and len(snap.path(src, n).hops) - 1 == hops), None)
    src = next(s for s in sats if at(s, 1) and at(s, 3))  # inside the bounding box, with neighbours
    pairs = [(hops, at(src, hops)) for hops in (1, 3)]
    rows = []
    with run:
        run.start()
        for hops, dst in pairs:
            a, b = run.node(src), run.node(dst)
            rtt = 2 * snap.path(src, dst).delay_ms
            server = subprocess.Popen(["nsenter", f"--net=/run/netns/{b.netns}", "iperf3", "-s", "-1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(0.3)
                res = subprocess.run(["nsenter", f"--net=/run/netns/{a.netns}", "iperf3", "-c", b.address,
                                      "-n", f"{megabytes}M", "-J"], capture_output=True, text=True, timeout=300)
            finally:
                server.kill()
                server.wait()
            end = json.loads(res.stdout)["end"]
            row = {"what": "TCP copy", "hops": hops, "pair": f"{src}-{dst}", "rtt_ms": rtt, "megabytes": megabytes,
                   "mbps": end["sum_received"]["bits_per_second"] / 1e6,
                   "seconds": end["sum_received"]["seconds"],
                   "min_rtt_ms": end["streams"][0]["sender"]["min_rtt"] / 1000.0,
                   "retransmits": end["sum_sent"].get("retransmits")}
            rows.append(row)
            print(f"[bulk] TCP copy of {megabytes} MB over {hops} hop(s) ({src} -> {dst}, RTT {rtt:.1f} ms): "
                  f"{row['mbps']:.0f} Mbit/s ({row['seconds']:.1f} s), TCP min RTT {row['min_rtt_ms']:.2f} ms, "
                  f"retransmits {row['retransmits']}", flush=True)
        if redis_mb:
            hops, dst = pairs[0]
            try:
                r = redis_replication(run.node(src), run.node(dst), redis_mb)
            except Exception as exc:  # noqa: BLE001 - report it, keep the TCP rows
                print(f"[bulk] Redis replication failed: {exc!r}", flush=True)
                return rows
            r.update({"what": "Redis replication", "hops": hops, "pair": f"{src}-{dst}"})
            rows.append(r)
            print(f"[bulk] Redis replication of {redis_mb} MB between neighbours ({src} -> {dst}): "
                  f"{r['seconds']:.1f} s ({r['mbps']:.0f} Mbit/s), replica complete: {r['complete']}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("issue", "sweep", "bulk", "all"), default="all")
    ap.add_argument("--implementations", default="python,c",
                    help="issue part: nfqueue daemons (python, c) to compare, in order; `c-keep-waits` is the "
                         "compiled one adding every hop-to-hop wait to the path (the previous anchoring); `netem` "
                         "adds the same flows on the netem backend where the kernel has sch_netem (parity)")
    ap.add_argument("--seconds", type=float, default=20.0, help="issue part: seconds per iperf3 run")
    ap.add_argument("--sweep-seconds", type=float, default=4.0)
    ap.add_argument("--sweep-implementations", default="c,python", help="sweep part: daemons, in order")
    ap.add_argument("--hops", default="1,4,10,16", help="sweep part: path lengths")
    ap.add_argument("--rates", default="10,50,100,200,500,1000,2000", help="sweep part: UDP offered loads, Mbit/s")
    ap.add_argument("--bulk-mb", type=int, default=500, help="bulk part: MB per TCP copy")
    ap.add_argument("--redis-mb", type=int, default=200, help="bulk part: MB of Redis data to replicate (0: skip)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    print(f"machine: {describe()}")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (other work shares the machine)")
    report: Dict = {"machine": describe(), "load_start": os.getloadavg()}
    if args.part in ("issue", "all"):
        report["issue"] = []
        for impl in args.implementations.split(","):
            if impl == "netem" and resolve_backend("auto") != "netem":
                print("netem: skipped, this kernel has no sch_netem (parity needs a kernel with it, e.g. the "
                      "Vagrant VM)", flush=True)
                continue
            report["issue"].append(issue_experiment(impl, args.seconds))
    if args.part in ("sweep", "all"):
        report["sweep"] = [row for impl in args.sweep_implementations.split(",")
                           for row in sweep(args.sweep_seconds, [int(h) for h in args.hops.split(",")],
                                            [float(r) for r in args.rates.split(",")], impl)]
    if args.part in ("bulk", "all"):
        report["bulk"] = bulk_experiment(args.bulk_mb, args.redis_mb)
    report["load_end"] = os.getloadavg()
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
