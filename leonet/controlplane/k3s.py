"""A k3s backend: where the ``k3s`` binary exists, ground stations run ``k3s server`` and satellites
``k3s agent`` inside their network namespaces, and experiments use the same kubeconfig-based clients.

k3s cannot be installed on the project's CI machines; its tests skip there. The embedded control plane
(:class:`leonet.controlplane.ControlPlane`) is the default backend. Note that a stock kubelet (k3s agent)
cannot hot-swap its control plane: with this backend only the traditional path (drain, delete, rejoin
with a token) is available.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import List, Optional

from .netns import exec_prefix


def k3s_binary() -> Optional[str]:
    return shutil.which("k3s")


def k3s_available() -> bool:
    return k3s_binary() is not None


class K3sServer:
    """``k3s server`` with its own data dir, listening on ``addr`` inside ``netns``."""

    def __init__(self, data_dir: Path, addr: str, port: int = 6443, netns: Optional[str] = None,
                 token: str = "leonet", extra_args: Optional[List[str]] = None):
        self.data_dir, self.addr, self.port, self.netns, self.token = Path(data_dir), addr, port, netns, token
        self.extra_args = list(extra_args or [])
        self.proc: Optional[subprocess.Popen] = None

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def url(self) -> str:
        return f"https://{self.addr}:{self.port}"

    def start(self, timeout: float = 120.0) -> "K3sServer":
        binary = k3s_binary()
        if not binary:
            raise RuntimeError("k3s is not installed (no `k3s` on PATH)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*exec_prefix(self.netns), binary, "server", "--data-dir", str(self.data_dir / "k3s"),
               "--bind-address", self.addr, "--advertise-address", self.addr, "--https-listen-port",
               str(self.port), "--node-ip", self.addr, "--token", self.token,
               "--write-kubeconfig", str(self.kubeconfig), "--write-kubeconfig-mode", "600",
               "--disable-agent", "--disable", "traefik,servicelb,metrics-server", *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.data_dir / "k3s.log", "ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.kubeconfig.exists():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"k3s server exited; see {self.data_dir / 'k3s.log'}")
            time.sleep(0.5)
        raise RuntimeError("k3s server did not write its kubeconfig in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


class K3sAgent:
    """``k3s agent`` for one satellite, in the satellite's namespace."""

    def __init__(self, name: str, server_url: str, token: str, data_dir: Path, node_ip: str,
                 netns: Optional[str] = None):
        self.name, self.server_url, self.token = name, server_url, token
        self.data_dir, self.node_ip, self.netns = Path(data_dir), node_ip, netns
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "K3sAgent":
        binary = k3s_binary()
        if not binary:
            raise RuntimeError("k3s is not installed (no `k3s` on PATH)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*exec_prefix(self.netns), binary, "agent", "--server", self.server_url, "--token", self.token,
               "--node-name", self.name, "--node-ip", self.node_ip, "--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(self.data_dir / "k3s-agent.log", "ab"))
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
