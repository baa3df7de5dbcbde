"""A satellite's replica of one keygroup: one ``redis-server`` in the satellite's
namespace, bound to the satellite's address (so every byte of replication crosses
the emulated links) and to a Unix socket (local access by functions and the node host).

Replication is Redis's own: a new replica starts with ``replicaof PRIMARY`` and
receives the whole keygroup (diskless: the primary streams its snapshot over the
socket), then the stream of writes; a hand-over moves the primary role
without losing an acknowledged write (:meth:`KeygroupReplica.pause_writes`,
:meth:`~KeygroupReplica.promote`: Redis's own ``FAILOVER`` waits for its once-a-second
replication cron and held writes for ~0.5 s, longer than a client's timeout); dropping a replica shuts its server down and
deletes its folder.
"""
from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import redis.asyncio as aioredis

from . import nsproc

REDIS_SERVER = "redis-server"


def parse_addr(text: str) -> Tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


class KeygroupReplica:
    """One keygroup on one satellite."""

    def __init__(self, keygroup: str, netns: str, address: str, port: int, folder: Path, mutable: bool = True,
                 expiry_s: int = 0):
        self.keygroup, self.netns, self.address, self.port = keygroup, netns, address, port
        self.folder, self.mutable, self.expiry_s = folder, mutable, int(expiry_s)
        self.socket = str(folder / "redis.sock")
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.created = time.time()
        self.primary: Optional[str] = None          # "host:port" while a replica
        self._client: Optional[aioredis.Redis] = None

    @property
    def tcp(self) -> str:
        return f"{self.address}:{self.port}"

    def spec(self) -> Dict[str, Any]:
        """What a function instance needs to reach it (kv.py)."""
        return {"unix": self.socket, "tcp": self.tcp, "expiry_s": self.expiry_s, "mutable": self.mutable}

    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis(unix_socket_path=self.socket, decode_responses=True, socket_timeout=10)
        return self._client

    async def start(self, primary: Optional[str] = None, timeout_s: float = 10.0,
                    snapshot: Optional[Path] = None) -> float:
        """Start the server (as a replica of ``primary``, or loading the RDB file
        ``snapshot``: the stop-copy-restart baseline); seconds until it answers with
        its data loaded."""
        t0 = time.perf_counter()
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        if snapshot is not None:
            shutil.move(str(snapshot), self.folder / "dump.rdb")
        argv = [REDIS_SERVER, "--bind", self.address, "--port", str(self.port), "--unixsocket", self.socket,
                "--unixsocketperm", "700", "--dir", str(self.folder), "--save", "", "--appendonly", "no",
                "--protected-mode", "no",
                # a primary knows its replicas by this address, and
                # replication leaves from it: a satellite has one address per interface
                "--replica-announce-ip", self.address, "--bind-source-addr", self.address, "--daemonize", "no", "--logfile", str(self.folder / "redis.log"),
                # diskless full sync both ways: the snapshot goes straight over the link
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                "--repl-diskless-load", "on-empty-db", "--rdbcompression", "no",
                # large keygroups: never drop a replica for its output buffer during a sync
                "--client-output-buffer-limit", "replica 0 0 0", "--repl-backlog-size", "64mb",
                "--repl-timeout", "30", "--replica-read-only", "yes", "--min-replicas-to-write", "0"]
        if primary:
            host, port = parse_addr(primary)
            argv += ["--replicaof", host, str(port)]
        self.primary = primary
        self.proc = await nsproc.spawn(self.netns, argv, stdout=asyncio.subprocess.DEVNULL,
                                       stderr=asyncio.subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self.client().ping()       # answers -LOADING (an error) until loaded
                return time.perf_counter() - t0
            except (aioredis.ConnectionError, FileNotFoundError, OSError):
                if self.proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis for keygroup {self.keygroup} did not start "
                                       f"(exit {self.proc.returncode}); see {self.folder}/redis.log")
                await asyncio.sleep(0.02)

    async def status(self) -> Dict[str, Any]:
        info = await self.client().info()
        out = {"keygroup": self.keygroup, "address": self.tcp, "role": info.get("role"),
               "keys": int(info.get("db0", {}).get("keys", 0)) if isinstance(info.get("db0"), dict) else 0,
               "used_memory_bytes": int(info.get("used_memory", 0)),
               "master_repl_offset": int(info.get("master_repl_offset", 0)),
               "mutable": self.mutable, "expiry_s": self.expiry_s, "alive": self.proc is not None
               and self.proc.returncode is None}
        if info.get("role") == "slave":
            out.update(primary=f"{info.get('master_host')}:{info.get('master_port')}",
                       link=info.get("master_link_status"), syncing=bool(int(info.get("master_sync_in_progress", 0))),
                       replica_offset=int(info.get("slave_repl_offset", 0)))
        else:
            out["replicas"] = [f"{v['ip']}:{v['port']}" for k, v in info.items()
                               if k.startswith("slave") and isinstance(v, dict)]
        return out

    async def wait_synced(self, timeout_s: float) -> Tuple[bool, float, Dict[str, Any]]:
        """Wait until this replica's link to its primary is up (the full copy is in).
        (synced, seconds since the server was started, last status)."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = await self.status()
            if st["role"] == "master" or (st.get("link") == "up" and not st.get("syncing")):
                return True, time.time() - self.created, st
            if time.monotonic() > deadline:
                return False, time.time() - self.created, st
            await asyncio.sleep(0.01)

    async def replicate_from(self, primary: Optional[str]) -> None:
        """Follow another primary (partial resync when it shares the history), or
        become a primary (None)."""
        if primary is None:
            await self.client().execute_command("REPLICAOF", "NO", "ONE")
        else:
            host, port = parse_addr(primary)
            await self.client().execute_command("REPLICAOF", host, port)
        self.primary = primary

    async def pause_writes(self, timeout_s: float) -> int:
        """The hand-over, step 1 (on the primary): hold every write (``CLIENT PAUSE
        WRITE``, also the replication pings) for at most ``timeout_s``; returns the
        replication offset the heir must reach."""
        c = self.client()
        await c.execute_command("CLIENT", "PAUSE", max(1, int(timeout_s * 1000)), "WRITE")
        return int((await c.info("replication"))["master_repl_offset"])

    async def promote(self, offset: int, timeout_s: float) -> float:
        """The hand-over, step 2 (on the heir, a replica): wait until it has every
        write up to ``offset``, then become the primary. Seconds it took."""
        t0 = time.perf_counter()
        c = self.client()
        deadline = time.monotonic() + timeout_s
        while True:
            info = await c.info("replication")
            if info.get("role") != "slave":
                raise RuntimeError(f"{self.tcp} is not a replica of keygroup {self.keygroup}")
            if info.get("master_link_status") == "up" and int(info.get("slave_repl_offset", -1)) >= offset:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {self.tcp} of {self.keygroup} did not reach offset {offset} in "
                                   f"{timeout_s:g} s (at {info.get('slave_repl_offset')}, link "
                                   f"{info.get('master_link_status')})")
            await asyncio.sleep(0.002)
        await c.execute_command("REPLICAOF", "NO", "ONE")
        self.primary = None
        return time.perf_counter() - t0

    async def unpause(self) -> None:
        """The hand-over, last step (on the old primary, after it follows the heir):
        held writes continue; they meet READONLY there and go to the new primary."""
        await self.client().execute_command("CLIENT", "UNPAUSE")

    async def checkpoint(self) -> Tuple[Path, float]:
        """Stop-copy-restart, the first step: write the keygroup to an RDB file and stop
        the server (from here the keygroup is unavailable). (file, seconds)."""
        t0 = time.perf_counter()
        await self.client().save()
        await self._close_client()
        await nsproc.stop(self.proc)
        self.proc = None
        return self.folder / "dump.rdb", time.perf_counter() - t0

    async def _close_client(self) -> None:
        if self._client is not None:
            try:
                await self._client.aclose()
            except Exception:
                pass
            self._client = None

    async def stop(self) -> None:
        await self._close_client()
        await nsproc.stop(self.proc)
        shutil.rmtree(self.folder, ignore_errors=True)
