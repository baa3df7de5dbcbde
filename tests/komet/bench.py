"""A bench for the platform tests: Komet servers in a private network namespace of the
test (satellites on 127.0.1.x; no emulation, so no live lock)."""
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import aiohttp

from leonet.komet.nodeapi import NodeClient
from leonet.komet.platform import REPO, NamespaceLoop, child_env, wait_for_line


class Bench:
    """Komet servers of ``names`` (on 127.0.1.x) and an asyncio loop in their namespace."""

    def __init__(self, tmp: Path, names: List[str]):
        self.netns = f"kmt-test-{os.getpid()}-{len(names)}"
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        self.nodes = [{"name": s, "netns": self.netns, "address": f"127.0.1.{i + 1}"} for i, s in enumerate(names)]
        (tmp / "nodes.json").write_text(json.dumps(self.nodes))
        self.proc = subprocess.Popen([sys.executable, "-m", "apps.komet.nodehost", "--nodes", str(tmp / "nodes.json"),
                                      "--state-dir", str(tmp / "state")], stdout=subprocess.PIPE, env=child_env(),
                                     cwd=str(REPO))
        assert wait_for_line(self.proc, b"ready", 60), "the node host did not start"
        self.loop = NamespaceLoop(self.netns)
        self.session = self.loop.run(self._session())
        self.clients = {n["name"]: NodeClient(self.session, n["name"], n["address"]) for n in self.nodes}

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def iptables(self, *args: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.netns, "iptables", *args], check=True)

    def close(self) -> None:
        self.loop.run(self.session.close())
        self.loop.close()
        self.proc.terminate()
        self.proc.wait(20)
        subprocess.run(["ip", "netns", "del", self.netns])
