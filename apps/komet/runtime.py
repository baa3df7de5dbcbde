"""A satellite's function instances (the tinyFaaS part of a Komet server).

Deploying a function writes its files to a folder and starts a worker process
(:mod:`apps.komet.worker`) in the satellite's namespace; the time from the start of the
process to its first answer is the function's **cold start**, reported with the
deployment. Invocations are proxied to the worker over its Unix socket. A worker that
dies (a function that crashes its process) answers the request in flight with 502 and
the exit status, the crash is recorded as an event, and the instance is started again.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import aiohttp

from . import nsproc

REPO = Path(__file__).resolve().parents[2]


class FunctionCrashed(Exception):
    pass


class FunctionInstance:
    """One deployed function on one satellite."""

    def __init__(self, name: str, netns: str, folder: Path, files: Dict[str, str], threads: int,
                 env: Dict[str, str], keygroups: Dict[str, Dict[str, Any]], on_event: Callable[..., None]):
        self.name, self.netns, self.folder, self.files = name, netns, folder, files
        self.threads, self.env, self.keygroups, self.on_event = threads, env, keygroups, on_event
        self.socket = str(folder / "fn.sock")
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.session: Optional[aiohttp.ClientSession] = None
        self.cold_start_s: Optional[float] = None
        self.restarts = 0
        self.invocations = 0
        self.deleted = False
        self._watch: Optional[asyncio.Task] = None

    async def start(self, timeout_s: float = 30.0) -> float:
        """Write the code, start the worker, wait for ``ready``: the cold start in s."""
        t0 = time.perf_counter()
        code = self.folder / "code"
        if code.exists():
            shutil.rmtree(code)
        code.mkdir(parents=True)
        for rel, text in self.files.items():
            target = (code / rel).resolve()
            if code.resolve() not in target.parents:
                raise ValueError(f"file name {rel!r} leaves the function's folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        env = {**os.environ, **self.env, "KOMET_FUNCTION": self.name,
               "KOMET_KEYGROUPS": json.dumps(self.keygroups),
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.proc = await nsproc.spawn(self.netns, [sys.executable, "-m", "apps.komet.worker", "--dir", str(code),
                                                    "--socket", self.socket, "--threads", str(self.threads)],
                                       env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        except asyncio.TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await nsproc.stop(self.proc)
            err = (await self.proc.stderr.read()).decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"function {self.name} did not start: {err[-1] if err else 'no output'}")
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=self.socket),
                                                 timeout=aiohttp.ClientTimeout(total=60))
        self.cold_start_s = time.perf_counter() - t0
        self._watch = asyncio.get_running_loop().create_task(self._watch_exit(self.proc))
        return self.cold_start_s

    async def _watch_exit(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self.deleted or proc is not self.proc:
            return
        err = (await proc.stderr.read()).decode(errors="replace").strip().splitlines()
        self.restarts += 1
        self.on_event("function_crashed", function=self.name, exit_code=code, detail=err[-1] if err else "")
        try:
            cold = await self.start()
            self.on_event("function_restarted", function=self.name, cold_start_s=round(cold, 4))
        except Exception as exc:
            self.on_event("function_restart_failed", function=self.name, detail=str(exc))

    async def invoke(self, body: bytes) -> Tuple[int, bytes, str]:
        """(status, body, content type) of one invocation."""
        self.invocations += 1
        proc = self.proc
        if proc is None or proc.returncode is not None or self.session is None:
            return 503, json.dumps({"error": f"function {self.name} is restarting"}).encode(), "application/json"
        try:
            async with self.session.post("http://fn/invoke", data=body) as resp:
                return resp.status, await resp.read(), resp.content_type
        except (aiohttp.ClientError, ConnectionError) as exc:
            try:
                code = await asyncio.wait_for(proc.wait(), 1.0)
            except asyncio.TimeoutError:
                code = None
            msg = {"error": f"function {self.name} crashed during the invocation", "exit_code": code,
                   "detail": str(exc)}
            return 502, json.dumps(msg).encode(), "application/json"

    async def stop(self) -> None:
        self.deleted = True
        if self._watch is not None:
            self._watch.cancel()
        await nsproc.stop(self.proc)
        if self.session is not None:
            await self.session.close()
            self.session = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def status(self) -> Dict[str, Any]:
        return {"name": self.name, "cold_start_s": self.cold_start_s, "restarts": self.restarts,
                "invocations": self.invocations, "threads": self.threads,
                "alive": self.proc is not None and self.proc.returncode is None}
