"""What an agent reports about its node: capacity, addresses, node info and the pressure conditions.

Pressure is measured on the host (all agents of a process share one host) with the kubelet's default
hard eviction thresholds: memory.available < 100 Mi, nodefs.available < 10 %, and fewer than 5 % of
pid_max left. A scenario can override the measurement per node (``pressure`` argument)."""
from __future__ import annotations

import os
import platform
import time
from typing import Dict, Optional

from ..timefmt import now_rfc3339

MEMORY_AVAILABLE_MIN = 100 * 2**20
NODEFS_AVAILABLE_MIN = 0.10
PIDS_AVAILABLE_MIN = 0.05
_cache: Dict[str, object] = {"t": 0.0}


def host_pressure(max_age: float = 10.0) -> Dict[str, bool]:
    """{MemoryPressure, DiskPressure, PIDPressure} of the host, measured at most every ``max_age`` s."""
    now = time.monotonic()
    if now - float(_cache["t"]) < max_age and "v" in _cache:
        return dict(_cache["v"])  # type: ignore[arg-type]
    mem = False
    try:
        with open("/proc/meminfo") as f:
            info = {l.split(":")[0]: int(l.split()[1]) * 1024 for l in f if l.split()[1:]}
        mem = info.get("MemAvailable", MEMORY_AVAILABLE_MIN) < MEMORY_AVAILABLE_MIN
    except (OSError, ValueError, IndexError):
        pass
    st = os.statvfs("/")
    disk = st.f_blocks > 0 and st.f_bavail / st.f_blocks < NODEFS_AVAILABLE_MIN
    pid = False
    try:
        pid_max = int(open("/proc/sys/kernel/pid_max").read())
        nprocs = sum(1 for d in os.listdir("/proc") if d.isdigit())
        pid = (pid_max - nprocs) / pid_max < PIDS_AVAILABLE_MIN
    except (OSError, ValueError):
        pass
    v = {"MemoryPressure": mem, "DiskPressure": disk, "PIDPressure": pid}
    _cache.update(t=now, v=v)
    return dict(v)


_REASONS = {
    "MemoryPressure": ("KubeletHasInsufficientMemory", "KubeletHasSufficientMemory",
                       "kubelet has insufficient memory available", "kubelet has sufficient memory available"),
    "DiskPressure": ("KubeletHasDiskPressure", "KubeletHasNoDiskPressure",
                     "kubelet has disk pressure", "kubelet has no disk pressure"),
    "PIDPressure": ("KubeletHasInsufficientPID", "KubeletHasSufficientPID",
                    "kubelet has insufficient PID available", "kubelet has sufficient PID available"),
}

_uname = platform.uname()


def node_info(version: str) -> dict:
    return {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": _uname.release,
            "osImage": "leonet node", "containerRuntimeVersion": "process://leonet",
            "kubeletVersion": version, "kubeProxyVersion": "", "operatingSystem": "linux",
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(_uname.machine, _uname.machine)}


def conditions(previous: Optional[list], pressure: Dict[str, bool], ready: bool, ready_message: str) -> list:
    """Node conditions with heartbeat now, keeping transition times of unchanged statuses."""
    now = now_rfc3339()
    prev = {c["type"]: c for c in previous or []}
    out = []

    def cond(t: str, status: str, reason: str, message: str) -> None:
        p = prev.get(t)
        out.append({"type": t, "status": status, "lastHeartbeatTime": now,
                    "lastTransitionTime": p["lastTransitionTime"] if p and p.get("status") == status
                    and p.get("lastTransitionTime") else now, "reason": reason, "message": message})
    for t, (r_yes, r_no, m_yes, m_no) in _REASONS.items():
        on = pressure.get(t, False)
        cond(t, "True" if on else "False", r_yes if on else r_no, m_yes if on else m_no)
    cond("Ready", "True" if ready else "False", "KubeletReady" if ready else "KubeletNotReady", ready_message)
    return out
