"""One process for many node agents: ``python -m leonet.controlplane.agents_process``.

It reads commands as JSON lines on stdin (``{"id": 1, "op": "add", "args": {...}}``, see
:mod:`.agent_host`) and answers each with one JSON line on stdout (``{"id": 1, "ok": true,
"result": ...}``). It exits when stdin closes, so it cannot outlive its parent's pipe.
:class:`AgentsProcess` is the parent's side.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Dict, Optional, Set

from ..childproc import die_with_parent_hook
from .agent_host import AgentHost


def raise_nofile() -> None:
    """Agents hold two or three sockets each: allow as many files as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    host = AgentHost()
    pending: Set[asyncio.Task] = set()

    async def run_one(msg: Dict[str, Any]) -> None:
        try:
            reply = {"id": msg.get("id"), "ok": True, "result": await host.handle(msg["op"], msg.get("args", {}))}
        except Exception as e:  # reported to the parent, which raises it
            logging.getLogger("leonet.controlplane.agents").exception("command %s failed", msg.get("op"))
            reply = {"id": msg.get("id"), "ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()

    while True:
        line = await reader.readline()
        if not line:
            break
        msg = json.loads(line)
        if msg["op"] == "stop":
            await run_one(msg)
            return
        # commands run concurrently: a long wait_registered must not hold up a swap
        task = loop.create_task(run_one(msg))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await host.op_stop()


def main() -> int:
    level = os.environ.get("LEONET_AGENTS_LOG", "WARNING").upper()   # DEBUG shows every failed request
    logging.basicConfig(level=getattr(logging, level, logging.WARNING),
                        format="%(asctime)s leonet-agents: %(levelname)s: %(message)s")
    raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent stops us (Ctrl-C reaches the whole group)
    asyncio.run(serve())
    return 0


class AgentsProcess:
    """The agents process, seen from its parent: ``call(op, **args)`` runs one command there. Calls
    may come from several threads at once; the process runs them concurrently."""

    def __init__(self, log_path: Optional[Path] = None):
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self._next_id = 0
        self._waiting: Dict[int, Future] = {}
        self._reader: Optional[threading.Thread] = None

    def start(self) -> "AgentsProcess":
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", "leonet.controlplane.agents_process"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                     preexec_fn=die_with_parent_hook())
        if log is not subprocess.DEVNULL:
            log.close()
        self._reader = threading.Thread(target=self._read_replies, name="leonet-agents-replies", daemon=True)
        self._reader.start()
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def _read_replies(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            reply = json.loads(line)
            fut = self._waiting.pop(reply.get("id"), None)
            if fut is not None:
                fut.set_result(reply)
        for fut in list(self._waiting.values()):
            fut.set_exception(RuntimeError(f"the agents process exited ({self._tail()})"))
        self._waiting.clear()

    def call(self, op: str, reply_timeout: Optional[float] = None, **args: Any) -> Any:
        """Send one command and wait for its answer (a dead process raises RuntimeError)."""
        assert self.proc is not None and self.proc.stdin is not None
        fut: Future = Future()
        with self._lock:
            self._next_id += 1
            self._waiting[self._next_id] = fut
            try:
                self.proc.stdin.write(json.dumps({"id": self._next_id, "op": op, "args": args}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                self._waiting.pop(self._next_id, None)
                raise RuntimeError(f"the agents process exited ({self._tail()})") from None
        reply = fut.result(reply_timeout)
        if not reply["ok"]:
            raise RuntimeError(f"agents: {op}: {reply['error']}")
        return reply["result"]

    def _tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return "log: " + self.log_path.read_text(errors="replace")[-1500:].strip()
        return f"exit status {self.proc.poll() if self.proc else None}"

    def close(self, timeout: float = 60.0) -> None:
        """Stop every agent (and its pods), then the process."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.call("stop", reply_timeout=timeout)
        except (RuntimeError, OSError, TimeoutError):
            pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    sys.exit(main())
