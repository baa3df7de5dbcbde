"""Named network namespaces, created and entered without spawning processes.

Namespaces live as bind mounts in ``/run/netns`` (the same place ``ip netns`` uses),
so ``ip netns exec``, ``nsenter --net=/run/netns/NAME`` and leonet's cleanup all find
them. Every leonet namespace name starts with :data:`PREFIX`.

Entering a namespace (``setns``) changes only the calling *thread*, and a socket keeps
the namespace it was created in. :class:`NetnsThread` owns one thread that hops between
namespaces, so that one process can create netlink sockets in thousands of namespaces
without ever moving its main thread.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import errno
import os
import threading
from pathlib import Path
from typing import Callable, Iterator, List, TypeVar

PREFIX = "ln-"
NETNS_DIR = Path("/run/netns")

_CLONE_NEWNET = 0x40000000
_MS_REC = 0x4000
_MS_BIND = 0x1000
_MS_SHARED = 1 << 20
_MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str, flags: int) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode(), flags, None), f"mount {target}")


def _prepare_netns_dir() -> None:
    """Make /run/netns a shared mount point, as ``ip netns add`` does, so namespaces
    created here are visible in other mount namespaces (e.g. ``ip netns exec``)."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    try:
        _mount("", str(NETNS_DIR), "none", _MS_SHARED | _MS_REC)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: not a mount point yet
            raise
        _mount(str(NETNS_DIR), str(NETNS_DIR), "none", _MS_BIND | _MS_REC)
        _mount("", str(NETNS_DIR), "none", _MS_SHARED | _MS_REC)


def path_of(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return path_of(name).exists()


def list_namespaces(prefix: str = PREFIX) -> List[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def setns(fd: int) -> None:
    _check(_libc.setns(fd, _CLONE_NEWNET), "setns")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the *calling thread* in namespace ``name``; always returns.

    Use it only from a thread you own (e.g. through :class:`NetnsThread`).
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(str(path_of(name)), os.O_RDONLY)
    try:
        setns(target)
        try:
            yield
        finally:
            setns(home)
    finally:
        os.close(target)
        os.close(home)


def _create_in_this_thread(names: List[str]) -> None:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        for name in names:
            path = path_of(name)
            if path.exists():
                raise FileExistsError(f"network namespace {name} already exists; run `leonet cleanup`")
            path.touch()
            try:
                _check(_libc.unshare(_CLONE_NEWNET), "unshare")
                _mount("/proc/thread-self/ns/net", str(path), "none", _MS_BIND)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            finally:
                setns(home)
    finally:
        os.close(home)


def delete(name: str) -> None:
    """Remove a namespace's bind mount; the kernel frees it once no process uses it."""
    path = path_of(name)
    ret = _libc.umount2(str(path).encode(), _MNT_DETACH)
    if ret != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        _check(ret, f"umount {path}")
    path.unlink(missing_ok=True)


class NetnsThread:
    """A worker thread that runs callables inside named namespaces.

    ``create`` makes namespaces; ``run(name, fn)`` calls ``fn()`` inside ``name`` and
    returns its result (sockets ``fn`` creates stay in that namespace).
    """

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="leonet-netns")
        self._lock = threading.Lock()

    def create(self, names: List[str]) -> None:
        _prepare_netns_dir()
        self._pool.submit(_create_in_this_thread, list(names)).result()

    def run(self, name: str, fn: Callable[[], T]) -> T:
        def call() -> T:
            with entered(name):
                return fn()
        return self._pool.submit(call).result()

    def run_many(self, calls: List[tuple]) -> List[object]:
        """Run ``[(name, fn), ...]`` in one hop of the worker thread; results in order."""
        def batch() -> List[object]:
            out = []
            for name, fn in calls:
                with entered(name):
                    out.append(fn())
            return out
        return self._pool.submit(batch).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
