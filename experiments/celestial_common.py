"""Shared pieces of the Celestial case studies (section 4, meetup; section 5, buoys):
scenarios scaled from the presets, the apps under apps/, a sampler of the processes'
CPU and memory (the paper's Figs. 7-8), CSV and figure output."""
from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a fresh clone without installing
    sys.path.insert(0, str(ROOT))

from experiments.common import matplotlib_agg, print_table, write_csv  # noqa: E402,F401
from leonet.orbits.scenario import scenario_path  # noqa: E402

APPS = ROOT / "apps"
OUT = ROOT / "results" / "celestial"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="reduced run for CI (seconds, a small constellation)")
    p.add_argument("--out", type=Path, default=OUT, help="output folder")
    p.add_argument("--backend", default="auto", help="delay backend (auto: netem where the kernel has it)")
    return p


def preset_raw(name: str) -> dict:
    """A preset's YAML as a mapping, to derive a scaled scenario from."""
    return copy.deepcopy(yaml.safe_load(scenario_path(name).read_text()))


def app(*parts: str) -> List[str]:
    """The command that runs an app script with this interpreter."""
    return [sys.executable, str(APPS.joinpath(*parts))]


def start_in_node(net, node: str, argv: Sequence[str], log: Path) -> subprocess.Popen:
    """Start an app inside a node's namespace (``ip netns exec``), output to ``log``."""
    fh = open(log, "w")
    return net[node].popen(list(argv), stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)


def start_host(argv: Sequence[str], log: Path) -> subprocess.Popen:
    """Start an app that opens its sockets in many nodes' namespaces (apps/common/nodesock.py)."""
    fh = open(log, "w")
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)


def stop_all(procs: Sequence[subprocess.Popen], timeout_s: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ----------------------------------------------------------------------------- CPU and memory

_CLK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _proc_stat(pid: int):
    """(CPU seconds, RSS bytes) of a process and its threads, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/statm") as fh:
            rss_pages = int(fh.read().split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK, rss_pages * _PAGE


def _children(pid: int) -> List[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except FileNotFoundError:
        return []


def find_pids(needle: str) -> List[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if needle.encode() in fh.read():
                        out.append(int(entry))
            except OSError:
                pass
    return out


class ResourceSampler:
    """Samples, every ``interval_s``, the CPU share (% of one core) and resident memory of
    groups of processes: the emulation (this process and its lookahead worker), the delay
    daemon, and the apps; like the paper's Machine Manager / microVM split (Figs. 7-8)."""

    def __init__(self, groups: Dict[str, callable], interval_s: float = 1.0):
        self.groups = groups
        self.interval_s = interval_s
        self.rows: List[dict] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "ResourceSampler":
        self._thread = threading.Thread(target=self._run, daemon=True, name="celestial-sampler")
        self._thread.start()
        return self

    def _run(self) -> None:
        last: Dict[int, float] = {}
        t0 = prev = time.monotonic()
        while not self._stop.wait(self.interval_s):
            now = time.monotonic()
            row = {"t_s": round(now - t0, 2)}
            for name, pids_of in self.groups.items():
                cpu, rss, count = 0.0, 0, 0
                for pid in pids_of():
                    st = _proc_stat(pid)
                    if st is None:
                        continue
                    count += 1
                    cpu += max(0.0, st[0] - last.get(pid, st[0]))
                    last[pid] = st[0]
                    rss += st[1]
                row[f"{name}_cpu_percent"] = round(100.0 * cpu / max(1e-6, now - prev), 2)
                row[f"{name}_rss_mb"] = round(rss / 2**20, 1)
                row[f"{name}_processes"] = count
            prev = now
            self.rows.append(row)

    def stop(self) -> List[dict]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.rows


def with_children(pids: Sequence[int]) -> List[int]:
    out = list(pids)
    for pid in pids:
        out += _children(pid)
    return out


def finish_figure(plt, fig, png: Path, dpi: int = 120, tight: bool = True) -> None:
    """Lay out, save and close a figure."""
    if tight:
        fig.tight_layout()
    fig.savefig(png, dpi=dpi)
    plt.close(fig)
