"""Subprocess entry point: run one control plane until SIGTERM/SIGINT.

    python -m leonet.controlplane.server --data-dir DIR [--addr 10.0.0.1] [--port 6443] [--netns gs1]

Prints one line ``READY <url> <kubeconfig>`` on stdout once it serves, for a parent process to wait on.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from ..childproc import die_with_parent_hook
from ..waiting import wait_for_line
from .controlplane import ControlPlane, ControlPlaneOptions, load_plugin


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, type=Path, help="state (SQLite), CA and kubeconfig live here")
    p.add_argument("--addr", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6443, help="listen port (default 6443; 0 picks one)")
    p.add_argument("--netns", help="network namespace to listen in: an `ip netns` name or a path "
                                   "such as /proc/PID/ns/net")
    p.add_argument("--name", default="leonet", help="cluster/context name in the kubeconfig")
    p.add_argument("--advertise", help="address written into the kubeconfig (default: --addr)")
    p.add_argument("--no-scheduler", action="store_true", help="leave all pods to external schedulers")
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0, metavar="S")
    p.add_argument("--node-monitor-period", type=float, default=5.0, metavar="S")
    p.add_argument("--default-toleration-seconds", type=int, default=300, metavar="S")
    p.add_argument("--orphan-pod-grace", type=float, default=20.0, metavar="S",
                   help="force-delete pods bound to a missing node after this long")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE:FACTORY[=ARG]",
                   help="run a plug-in inside the control plane (repeatable), e.g. "
                        "leonet.kubespace.runtime.plane:plane_plugin=/path/config.json")


def options_from_args(args: argparse.Namespace) -> ControlPlaneOptions:
    return ControlPlaneOptions(node_monitor_period=args.node_monitor_period,
                               node_monitor_grace_period=args.node_monitor_grace_period,
                               default_toleration_seconds=args.default_toleration_seconds,
                               orphan_pod_grace=args.orphan_pod_grace, scheduler=not args.no_scheduler)


async def serve(args: argparse.Namespace) -> None:
    cp = ControlPlane(args.data_dir, host=args.addr, port=args.port, netns=args.netns, name=args.name,
                      advertise=args.advertise, options=options_from_args(args),
                      plugins=[load_plugin(spec) for spec in args.plugin])
    await cp.start()
    print(f"READY {cp.url} {cp.kubeconfig_path}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await cp.stop()


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m leonet.controlplane.server", description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="leonet-controlplane: %(levelname)s: %(message)s")
    asyncio.run(serve(args))
    return 0


class ControlPlaneProcess:
    """A control plane in a child process (e.g. one per ground-station host).

    By default the child opens its listening socket in ``netns`` (``--netns``). With
    ``enter_netns=True`` the whole process runs inside ``netns`` (started through ``nsenter``), as a
    program on that host would: whatever removes the namespace's processes then removes it too.
    ``log_path`` receives its stderr (default: a pipe read only if it fails to start)."""

    def __init__(self, data_dir: Path, addr: str = "127.0.0.1", port: int = 6443, netns: Optional[str] = None,
                 name: str = "leonet", extra_args: Sequence[str] = (), enter_netns: bool = False,
                 log_path: Optional[Path] = None):
        self.cmd = [sys.executable, "-m", "leonet.controlplane.server", "--data-dir", str(data_dir),
                    "--addr", addr, "--port", str(port), "--name", name, *extra_args]
        if netns and enter_netns:
            from .netns import exec_prefix
            self.cmd = exec_prefix(netns) + self.cmd
        elif netns:
            self.cmd += ["--netns", netns]
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        self.kubeconfig: Optional[Path] = None

    def spawn(self) -> "ControlPlaneProcess":
        """Start the child without waiting (see :meth:`wait_ready`); several can then start in parallel."""
        err = open(self.log_path, "ab") if self.log_path else subprocess.PIPE
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                     preexec_fn=die_with_parent_hook())
        if self.log_path:
            err.close()
        return self

    def wait_ready(self, timeout: float = 30.0) -> "ControlPlaneProcess":
        """Block until the child prints READY (raises RuntimeError if it dies or times out first)."""
        assert self.proc is not None
        ready = wait_for_line(self.proc, "READY", timeout)
        if ready is not None:
            self.url, kc = ready[1:3]
            self.kubeconfig = Path(kc)
            return self
        self.stop()   # first: its output may end a moment before it exits
        if self.log_path:
            err = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        else:
            err = self.proc.stderr.read()
        raise RuntimeError(f"control plane did not start: {err.strip()[-2000:]}")

    def start(self, timeout: float = 30.0) -> "ControlPlaneProcess":
        """Start and block until it prints READY (raises RuntimeError if it dies first)."""
        return self.spawn().wait_ready(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None


if __name__ == "__main__":
    sys.exit(main())
