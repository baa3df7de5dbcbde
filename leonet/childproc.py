"""Child processes that do not outlive the process that started them.

Shared by every layer (it imports nothing of leonet) and by the apps that run from this checkout
(``apps/komet``). A daemon, agents process or worker left behind by a crashed run would hold its
namespaces, ports and files; the kernel removes it instead::

    subprocess.Popen(cmd, preexec_fn=die_with_parent)          # from a thread that lives as long as the child
    subprocess.Popen(cmd, preexec_fn=die_with_parent_hook())   # from any thread
    multiprocessing.Pool(initializer=...)                      # call die_with_parent() in the initializer
"""
from __future__ import annotations

import ctypes
import functools
import os
import signal
import threading
from typing import Callable, Optional

_PR_SET_PDEATHSIG = 1   # <linux/prctl.h>


def die_with_parent(parent_pid: Optional[int] = None) -> None:
    """Ask the kernel to SIGKILL the calling process when its parent dies, even by SIGKILL.

    Call it in the child: as ``subprocess.Popen``'s ``preexec_fn`` or first in a worker's initializer.
    The kernel sends the signal when the *thread* that forked the child ends, not only the process: a
    child started from a thread that ends first dies with that thread (:func:`die_with_parent_hook`).
    ``parent_pid``: the parent's pid, taken before the fork; a parent that died between the fork and
    this call sends no signal any more, so then the child kills itself (``getppid`` has changed)."""
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent_hook() -> Optional[Callable[[], None]]:
    """:func:`die_with_parent` as a ``preexec_fn`` (with this process as the parent to check) when called
    on the main thread, else ``None``: a child started from another thread (which may end while the run
    goes on) must not die with that thread, so it is not tied to its parent at all."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return functools.partial(die_with_parent, os.getpid())
