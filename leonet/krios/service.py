"""Krios in a live emulation: a run service (see :mod:`leonet.launch`) that starts the
Krios daemon (scheduler + LEO controller, :mod:`.daemon`) inside the control ground
station's namespace, next to its control plane, once the planes are up.

The daemon reaches the API server over the station's own address (no emulated link
between them, as on the paper's control node) and satellites' agents over the
emulated network; it reads the emulated time from the info API and publishes the
apps' endpoints there. Its log and handover log live under
``/run/leonet/krios/`` while the run lasts.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

from ..childproc import die_with_parent_hook
from ..errors import ConfigError, LeonetError
from ..orbits.timeutil import format_utc
from ..waiting import wait_for_line
from .config import KriosConfig, krios_config

if TYPE_CHECKING:
    from ..emulation.run import EmulationRun

log = logging.getLogger("leonet.krios")

STATE_DIR = Path("/run/leonet/krios")


class KriosService:
    """Validates the ``krios:`` section with the run and runs the daemon during it."""

    def __init__(self, run: "EmulationRun", noop: bool = False, components: str = "scheduler,controller",
                 state_dir: Path = STATE_DIR):
        self.config: KriosConfig = krios_config(run.scenario)
        cp = run.scenario.sections.get("controlplane")
        if cp is None:
            raise ConfigError("krios", "controlplane", "Krios needs a control plane",
                              "add a `controlplane:` section (e.g. {ground_stations: [Control]})")
        stations = cp.get("ground_stations") if isinstance(cp, dict) else None
        self.station = self.config.control_ground_station or (stations[0] if isinstance(stations, list) and stations
                                                               else None)
        if isinstance(stations, list) and self.station not in stations:
            raise ConfigError("krios.control_ground_station", self.station, "hosts no control plane",
                              f"name one of controlplane.ground_stations: {', '.join(map(str, stations))}")
        self.run = run
        self.noop, self.components = noop, components
        self.state_dir = Path(state_dir)
        self.handovers_path = self.state_dir / "handovers.jsonl"
        self.stats_path = self.state_dir / "scheduler.json"
        self.log_path = self.state_dir / "daemon.log"
        self.proc: Optional[subprocess.Popen] = None

    @classmethod
    def of(cls, run: "EmulationRun") -> "KriosService":
        for s in getattr(run, "services", []):
            if isinstance(s, cls):
                return s
        raise LeonetError("this run has no Krios: add a `krios:` section to the scenario")

    def start(self, run: "EmulationRun") -> None:
        from ..controlplane.cluster import ControlPlaneCluster
        from ..controlplane.netns import exec_prefix
        cluster = ControlPlaneCluster.of(run)
        station = self.station or next(iter(cluster.planes))
        plane = cluster.planes[station]
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        source = run.scenario.source
        cmd = [*exec_prefix(plane.netns), sys.executable, "-m", "leonet.krios.daemon", "--kubeconfig", plane.kubeconfig,
               "--scenario", str(source), "--start", format_utc(run.scenario.start), "--clock", "info",
               "--endpoints", "info", "--components", self.components, "--handovers", str(self.handovers_path),
               "--stats", str(self.stats_path)]
        if self.noop:
            cmd.append("--noop")
        err = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                     preexec_fn=die_with_parent_hook())
        err.close()
        self._wait_ready(120.0)   # the daemon retries its first clock reading for up to 60 s
        log.info("krios: scheduler and LEO controller running in %s (pid %d)", station, self.proc.pid)

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        if wait_for_line(self.proc, "READY", timeout) is not None:
            return
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        raise LeonetError(f"the Krios daemon did not start: {tail.strip()}")

    def handovers(self) -> List[dict]:
        """The handovers so far (the daemon's JSON-lines log)."""
        if not self.handovers_path.exists():
            return []
        return [json.loads(line) for line in self.handovers_path.read_text().splitlines() if line.strip()]

    def scheduler_stats(self) -> Optional[dict]:
        """The scheduler's decisions (written when the daemon stops)."""
        return json.loads(self.stats_path.read_text()) if self.stats_path.exists() else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_seconds(self) -> Optional[float]:
        """CPU time the daemon used so far (user + system)."""
        if self.proc is None:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        import os
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __repr__(self) -> str:
        return f"KriosService(station={self.station!r}, pid={self.proc.pid if self.proc else None})"


def attach(run: "EmulationRun", **kw: Any) -> KriosService:
    service = KriosService(run, **kw)
    run.add_service(service)
    return service
