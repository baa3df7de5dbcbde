"""Helpers for tests against real Docker containers and namespaces."""
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import yaml

from leonet.emulation import runstate
from leonet.waiting import poll
from tests.conftest import require_root

#: 20 satellites (Docker) over Europe, two nearby ground stations (Docker), a box
DOCKER_SCENARIO: Dict = {
    "name": "docker-tiny",
    "start": "2026-01-31T12:00:00Z",
    "defaults": {"min_elevation_deg": 10, "gsl_bandwidth_mbps": 100, "isl_bandwidth_mbps": 100},
    "shells": [{"name": "t", "walker": "delta", "planes": 4, "sats_per_plane": 5, "altitude_km": 1200,
                "inclination_deg": 53}],
    "ground_stations": [{"name": "Berlin", "lat_deg": 52.52, "lon_deg": 13.405},
                        {"name": "Prague", "lat_deg": 50.08, "lon_deg": 14.43}],
    "topology": {"gsl": {"policy": "nearest"},
                 "bounding_box": {"lat_min_deg": 20, "lat_max_deg": 75, "lon_min_deg": -30, "lon_max_deg": 60}},
    "emulation": {"nodes": "docker", "backend": "none"},
    "containers": {"satellite": {"cpus": 0.2, "memory_mb": 32},
                   "ground_station": {"cpus": 0.5, "memory_mb": 64}},
}


def require_docker() -> None:
    require_root()
    from leonet.containers.docker_client import docker_available
    reason = docker_available()
    if reason is not None:
        pytest.skip(f"needs a running Docker daemon: {reason}")
    from leonet.containers.images import build_images
    build_images()


def wait_for_idle_machine(timeout_s: float = 900.0) -> None:
    """One run per machine: wait while another process's run is active (shared dev machines)."""
    if not poll(lambda: runstate.active_run() is None, timeout_s, interval=2):
        pytest.skip("another leonet run stayed active on this machine")


def write(tmp: Path, raw: Dict, name: str = "scenario.yaml") -> str:
    path = tmp / name
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def reachable_offset(engine, a: str, b: str, need_satellite_hop: bool = True, span_s: float = 6 * 3600,
                     step_s: float = 20.0) -> float:
    """The first offset at which a and b are connected (through at least one satellite)."""
    for off in np.arange(0.0, span_s, step_s):
        p = engine.snapshot(float(off)).path(a, b)
        if p.reachable and (not need_satellite_hop or len(p.hops) >= 3):
            return float(off)
    pytest.skip(f"no path between {a} and {b} within {span_s / 3600:.0f} h")


def docker_exec(container: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", container, "sh", "-c", command],
                          capture_output=True, text=True, timeout=timeout)


def container_status(name: str) -> Optional[str]:
    r = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", name], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def leonet_containers() -> List[str]:
    r = subprocess.run(["docker", "ps", "-a", "--filter", "label=leonet.run", "--format", "{{.Names}}"],
                       capture_output=True, text=True)
    return r.stdout.split()


def ping_ok(container: str, target: str, count: int = 2, wait_s: int = 1) -> bool:
    return docker_exec(container, f"ping -c {count} -W {wait_s} {target}").returncode == 0


def ping_rtts_ms(container: str, target: str, count: int = 5) -> List[float]:
    import re
    out = docker_exec(container, f"ping -c {count} -i 0.2 -W 2 {target}").stdout
    return [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]


def start_when_idle(run, timeout_s: float = 900.0) -> None:
    """``run.start()``, waiting while another process's run holds the machine (the check
    and the claim are not atomic, so a run started meanwhile is waited for too)."""
    from leonet.errors import LeonetError
    deadline = time.monotonic() + timeout_s
    while True:
        wait_for_idle_machine(max(1.0, deadline - time.monotonic()))
        try:
            run.start()
            return
        except LeonetError as exc:
            if "another leonet run" not in str(exc) or time.monotonic() > deadline:
                raise
            run.stop()
