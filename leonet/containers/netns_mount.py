"""Bind-mount a process's network namespace into /run/netns, as ``ip netns attach`` does."""
from __future__ import annotations

import ctypes
import os

from ..emulation import netns as nsmod

_MS_BIND = 0x1000
_libc = ctypes.CDLL(None, use_errno=True)


def attach(pid: int, name: str) -> None:
    """Make ``/run/netns/<name>`` the network namespace of process ``pid``.

    The namespace then outlives the process, like those leonet creates itself. The
    caller must have prepared /run/netns (``NetnsThread.create([])`` does)."""
    path = nsmod.path_of(name)
    if path.exists():
        raise FileExistsError(f"network namespace {name} already exists; run `leonet cleanup`")
    path.touch()
    src = f"/proc/{pid}/ns/net".encode()
    if _libc.mount(src, str(path).encode(), b"none", _MS_BIND, None) != 0:
        err = ctypes.get_errno()
        path.unlink(missing_ok=True)
        raise OSError(err, f"bind-mounting the namespace of pid {pid} at {path}: {os.strerror(err)}")
