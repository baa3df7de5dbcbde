"""Processes started inside a node's network namespace by the node host.

``ip netns exec`` runs the program in the namespace (and bind-mounts the namespace's
resolv.conf); the child dies with the node host (``PR_SET_PDEATHSIG``), so a crashed
node host leaves no Redis or function instance behind.
"""
from __future__ import annotations

import asyncio
from typing import Dict, List, Optional

from leonet.childproc import die_with_parent   # apps/komet runs from the checkout, beside leonet


async def spawn(netns: str, argv: List[str], env: Optional[Dict[str, str]] = None, stdout=None, stderr=None,
                cwd: Optional[str] = None) -> asyncio.subprocess.Process:
    """Start ``argv`` in namespace ``netns`` (no namespace: here)."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return await asyncio.create_subprocess_exec(*prefix, *argv, env=env, stdout=stdout, stderr=stderr, cwd=cwd,
                                                stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent)


async def stop(proc: Optional[asyncio.subprocess.Process], grace_s: float = 2.0) -> Optional[int]:
    """SIGTERM, then SIGKILL after ``grace_s``; the exit code (None if it never ended:
    a frozen process outside the bounding box ends when it is thawed)."""
    if proc is None or proc.returncode is not None:
        return None if proc is None else proc.returncode
    try:
        proc.terminate()
        return await asyncio.wait_for(proc.wait(), grace_s)
    except ProcessLookupError:
        return proc.returncode
    except asyncio.TimeoutError:
        try:
            proc.kill()
            return await asyncio.wait_for(proc.wait(), grace_s)
        except (ProcessLookupError, asyncio.TimeoutError):
            return proc.returncode
