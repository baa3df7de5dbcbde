"""Komet's platform on a live emulation: the satellites' Komet servers, and ways to
run the ground side (scheduler, clients, experiment drivers) inside ground stations.

    with LeoNet("komet-live-cache") as net, KometPlatform(net) as komet:
        ground = komet.loop("redmond")                 # an asyncio loop in Redmond's namespace
        nodes = {s: NodeClient(session, s, komet.address(s)) for s in net.satellites}
        sched = GroundScheduler(net.run.engine, Deployment(CACHE, nodes.get), ...)
        ground.run(sched.serve(komet.address("redmond")))
        client = komet.spawn("redmond", ["-m", "apps.komet.client", ...], "client.log")

(``experiments/komet_fig7.py`` in full.) The servers of all satellites run in one
process (``apps.komet.nodehost``), each satellite's sockets, Redis servers and function
instances in its own namespace. The scheduler runs on a loop in its ground station's
namespace and the clients are processes there (``ip netns exec``), so every request,
every replication byte and every control call crosses the emulated links.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Awaitable, Dict, Iterable, List, Optional, TypeVar

from ..childproc import die_with_parent_hook
from ..errors import LeonetError
from ..waiting import wait_for_line

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def child_env() -> Dict[str, str]:
    """The environment of processes we start: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


class NamespaceLoop:
    """An asyncio loop on a thread that lives in one node's network namespace: every
    socket its coroutines open is that node's (the experiments' drivers use it)."""

    def __init__(self, netns: str):
        self.netns = netns
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._main, name=f"komet-{netns}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        from ..emulation.netns import path_of, setns
        try:
            fd = os.open(str(path_of(self.netns)), os.O_RDONLY)
            try:
                setns(fd)                      # this thread only, for its whole life
            finally:
                os.close(fd)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        asyncio.set_event_loop(self.loop)
        self._ready.set()
        self.loop.run_forever()

    def run(self, coro: Awaitable[T], timeout: Optional[float] = None) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Awaitable[T]) -> "Future[T]":
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        if self.loop.is_running():
            async def _drain() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            try:
                self.run(_drain(), timeout=10)
            except Exception:
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> "NamespaceLoop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class KometPlatform:
    """The satellites' Komet servers on a started :class:`~leonet.LeoNet`, plus the
    ground-side processes started through it (stopped with it)."""

    def __init__(self, net: Any, satellites: Optional[Iterable[str]] = None, workdir: Optional[Path] = None):
        self.net = net
        self.satellites = list(satellites) if satellites is not None else list(net.satellites)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="leonet-komet-"))
        self.nodehost: Optional[subprocess.Popen] = None
        self.processes: List[subprocess.Popen] = []
        self._loops: List[NamespaceLoop] = []

    # ------------------------------------------------------------------ nodes
    def netns(self, node: str) -> str:
        return self.net.run.node(node).netns

    def address(self, node: str) -> str:
        return self.net.address(node)

    def node_table(self, names: Iterable[str]) -> List[Dict[str, str]]:
        return [{"name": n, "netns": self.netns(n), "address": self.address(n)} for n in names]

    def start(self, timeout_s: float = 120.0) -> "KometPlatform":
        """Start every satellite's server; returns once all of them listen."""
        if shutil.which("redis-server") is None:
            raise LeonetError("Komet's keygroups need redis-server (Debian: redis-server; scripts/install.sh)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        nodes_file = self.workdir / "nodes.json"
        nodes_file.write_text(json.dumps(self.node_table(self.satellites)))
        log = open(self.workdir / "nodehost.log", "wb")
        self.nodehost = subprocess.Popen(
            [sys.executable, "-m", "apps.komet.nodehost", "--nodes", str(nodes_file), "--state-dir",
             str(self.workdir / "nodes"), "--log-level", "INFO"],
            stdout=subprocess.PIPE, stderr=log, env=child_env(), cwd=str(REPO), preexec_fn=die_with_parent_hook())
        log.close()
        if not wait_for_line(self.nodehost, b"ready", timeout_s):
            self.stop()
            raise LeonetError(f"the Komet servers did not start; see {self.workdir / 'nodehost.log'}")
        return self

    def loop(self, node: str) -> NamespaceLoop:
        """An asyncio loop inside ``node``'s namespace (closed with the platform)."""
        lp = NamespaceLoop(self.netns(node))
        self._loops.append(lp)
        return lp

    # ------------------------------------------------------------------ ground processes
    def spawn(self, node: str, argv: List[str], log_name: str) -> subprocess.Popen:
        """Start a Python module's process in ``node``'s namespace; its stderr goes to
        ``workdir/log_name``."""
        log = open(self.workdir / log_name, "wb")
        proc = subprocess.Popen(["ip", "netns", "exec", self.netns(node), sys.executable, *argv],
                                stdout=subprocess.PIPE, stderr=log, env=child_env(), cwd=str(REPO),
                                preexec_fn=die_with_parent_hook())
        log.close()
        self.processes.append(proc)
        return proc

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        for lp in self._loops:
            lp.close()
        self._loops.clear()
        for proc in self.processes:
            _terminate(proc)
        self.processes.clear()
        if self.nodehost is not None:
            _terminate(self.nodehost, grace_s=15)
            self.nodehost = None

    def __enter__(self) -> "KometPlatform":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        if self._own_workdir and not os.environ.get("LEONET_KOMET_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


class LocalKomet:
    """Komet servers without an emulation: satellites ``names`` on 127.0.1.x in one
    private network namespace (``kmt-<pid>-<n>``, not ``ln-``: a live run's clean-up
    leaves it alone), and an asyncio loop there. For the platform's tests and
    ``experiments/komet_fig8.py --no-emulation``; needs root, not the live lock."""

    def __init__(self, workdir: Path, names: List[str]):
        self.netns = f"kmt-{os.getpid()}-{len(names)}"
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        try:
            subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
            self.nodes = [{"name": s, "netns": self.netns, "address": f"127.0.1.{i + 1}"}
                          for i, s in enumerate(names)]
            (workdir / "nodes.json").write_text(json.dumps(self.nodes))
            self.proc = subprocess.Popen([sys.executable, "-m", "apps.komet.nodehost", "--nodes",
                                          str(workdir / "nodes.json"), "--state-dir", str(workdir / "state")],
                                         stdout=subprocess.PIPE, env=child_env(), cwd=str(REPO),
                                         preexec_fn=die_with_parent_hook())
            if not wait_for_line(self.proc, b"ready", 60):
                raise LeonetError(f"the Komet servers did not start in {self.netns}")
            self.loop = NamespaceLoop(self.netns)
            self.session = self.loop.run(_new_session())
        except BaseException:
            subprocess.run(["ip", "netns", "del", self.netns])
            raise
        from .nodeapi import NodeClient
        self.clients = {n["name"]: NodeClient(self.session, n["name"], n["address"]) for n in self.nodes}

    def iptables(self, *args: str) -> None:
        """Run iptables in the namespace (the tests' link faults)."""
        subprocess.run(["ip", "netns", "exec", self.netns, "iptables", *args], check=True)

    def close(self) -> None:
        self.loop.run(self.session.close())
        self.loop.close()
        _terminate(self.proc, grace_s=20)
        subprocess.run(["ip", "netns", "del", self.netns])


async def _new_session():
    import aiohttp
    return aiohttp.ClientSession()


def _terminate(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
