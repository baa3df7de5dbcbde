"""Helpers for the shaping-backend tests: error statistics and kernel-state readers."""
import json
import os
import subprocess
from typing import Dict, List, Sequence

from leonet.emulation.shaping.iptables_rules import list_rules


def errors(rtts: Sequence[float], expected_ms: float) -> List[float]:
    return sorted(r - expected_ms for r in rtts)


def quantile(values: Sequence[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def share_within(values: Sequence[float], bound: float) -> float:
    return sum(abs(v) <= bound for v in values) / max(1, len(values))


def describe(errs: Sequence[float]) -> str:
    return (f"n={len(errs)} p50={quantile(errs, .5):+.3f} p95={quantile(errs, .95):+.3f} "
            f"max={max(errs):+.3f} min={min(errs):+.3f} ms")


def qdiscs(ns: str, ifname: str) -> List[Dict]:
    out = subprocess.run(["ip", "netns", "exec", ns, "tc", "-j", "qdisc", "show", "dev", ifname],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def root_qdisc(ns: str, ifname: str) -> Dict:
    return next(q for q in qdiscs(ns, ifname) if q.get("root"))


def leonet_rules(names: Sequence[str]) -> List[str]:
    return [r for ns in names if os.path.exists(f"/run/netns/{ns}") for r in list_rules(ns)]


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
