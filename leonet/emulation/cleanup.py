"""`leonet cleanup`: remove leonet's own resources, and only those.

What belongs to leonet is recognised by name or label, never by guessing:

* network namespaces named ``ln-*`` in /run/netns, and every process inside them
  (with a namespace, its veths, qdiscs and iptables rules go too);
* helper processes of the delay backends (recognised by their command line);
* Docker containers labelled ``leonet.run`` (when Docker is installed);
* the run records in /run/leonet.

It also stops an active run's process first (SIGTERM, then SIGKILL).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from . import netns as nsmod
from . import runstate
from .nodes import kill_processes_in_namespaces

#: substrings of the command lines of leonet's helper processes
HELPER_MARKERS = ("leonet.emulation.shaping",)
DOCKER_LABEL = "leonet.run"


@dataclass
class CleanupReport:
    run_stopped: bool = False
    processes_killed: int = 0
    namespaces_removed: int = 0
    containers_removed: int = 0
    notes: List[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.namespaces_removed} namespaces", f"{self.processes_killed} processes",
                 f"{self.containers_removed} containers"]
        text = "removed " + ", ".join(parts)
        if self.run_stopped:
            text = "stopped the active run; " + text
        return text


def _stop_active_run(report: CleanupReport) -> None:
    record = runstate.active_run()
    if record is None or int(record["pid"]) == os.getpid():
        return
    pid = int(record["pid"])
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not runstate.pid_alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    report.run_stopped = True


def _helper_processes() -> List[int]:
    pids = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in HELPER_MARKERS):
            pids.append(int(entry))
    return pids


def _remove_containers(report: CleanupReport) -> None:
    try:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={DOCKER_LABEL}"],
                             capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return
    if ids.returncode != 0:
        return  # no daemon running: nothing of ours can be running either
    found = ids.stdout.split()
    try:  # containers a run made without leonet's label (Containernet hosts)
        found += runstate.OWNED_CONTAINERS.read_text().split()
        runstate.OWNED_CONTAINERS.unlink()
    except FileNotFoundError:
        pass
    if found:
        subprocess.run(["docker", "rm", "-f", *found], capture_output=True, timeout=120)
        report.containers_removed = len(found)


def cleanup(stop_run: bool = True) -> CleanupReport:
    """Remove every leonet resource on this machine; idempotent."""
    report = CleanupReport()
    if stop_run:
        _stop_active_run(report)
    for pid in _helper_processes():
        try:
            os.kill(pid, signal.SIGKILL)
            report.processes_killed += 1
        except ProcessLookupError:
            pass
    names = nsmod.list_namespaces()
    report.processes_killed += kill_processes_in_namespaces(str(nsmod.path_of(n)) for n in names)
    for name in names:
        nsmod.delete(name)
    report.namespaces_removed = len(names)
    # per-namespace files `ip netns exec` reads (e.g. the nodes' resolv.conf for leonet DNS)
    etc_netns = Path("/etc/netns")
    if etc_netns.is_dir():
        for entry in etc_netns.glob(f"{nsmod.PREFIX}*"):
            shutil.rmtree(entry, ignore_errors=True)
    _remove_containers(report)
    if runstate.active_run() is None:
        runstate.release()
    return report
