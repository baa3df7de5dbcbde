"""The cgroup freezer for processes that are not in Docker containers (bare-namespace
nodes): freeze and thaw every process of a network namespace.

cgroup v1 (``/sys/fs/cgroup/freezer``) and v2 (``cgroup.freeze``) are both handled. The
groups live under ``leonet/<name>`` and are removed by :meth:`Freezer.remove`.
"""
from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import Iterable, Optional

ROOT = Path("/sys/fs/cgroup")


class Freezer:
    def __init__(self, root: Path = ROOT):
        if (root / "freezer").is_dir():
            self.base, self.v2 = root / "freezer", False
        elif (root / "cgroup.controllers").exists():
            self.base, self.v2 = root, True
        else:
            self.base, self.v2 = None, False

    @property
    def available(self) -> bool:
        return self.base is not None

    def _group(self, name: str) -> Path:
        assert self.base is not None
        return self.base / "leonet" / name

    def freeze(self, name: str, pids: Iterable[int]) -> int:
        """Move ``pids`` into group ``name`` and freeze it; returns how many moved."""
        if self.base is None:
            raise OSError(errno.ENOTSUP, "no cgroup freezer on this machine")
        group = self._group(name)
        group.mkdir(parents=True, exist_ok=True)
        moved = 0
        for pid in pids:
            try:
                (group / "cgroup.procs").write_text(str(pid))
                moved += 1
            except OSError:  # gone meanwhile, or a kernel thread
                pass
        self._state(group, True)
        return moved

    def thaw(self, name: str) -> None:
        if self.base is None:
            return
        group = self._group(name)
        if group.is_dir():
            self._state(group, False)

    def _state(self, group: Path, frozen: bool) -> None:
        if self.v2:
            (group / "cgroup.freeze").write_text("1" if frozen else "0")
            return
        (group / "freezer.state").write_text("FROZEN" if frozen else "THAWED")
        want = "FROZEN" if frozen else "THAWED"
        for _ in range(200):  # v1 freezing is asynchronous (FREEZING first)
            if (group / "freezer.state").read_text().strip() == want:
                return
            time.sleep(0.005)

    def remove(self, name: str) -> None:
        """Thaw the group, move its processes back to the root group, remove it."""
        if self.base is None:
            return
        group = self._group(name)
        if not group.is_dir():
            return
        self._state(group, False)
        for pid in (group / "cgroup.procs").read_text().split():
            try:
                (self.base / "cgroup.procs").write_text(pid)
            except OSError:
                pass
        try:
            group.rmdir()
        except OSError:
            pass

    def remove_all(self) -> None:
        if self.base is None or not (self.base / "leonet").is_dir():
            return
        for group in (self.base / "leonet").iterdir():
            if group.is_dir():
                self.remove(group.name)


def frozen(name: str, freezer: Optional[Freezer] = None) -> bool:
    f = freezer or Freezer()
    if f.base is None or not f._group(name).is_dir():
        return False
    g = f._group(name)
    if f.v2:
        return (g / "cgroup.freeze").read_text().strip() == "1"
    return (g / "freezer.state").read_text().strip() != "THAWED"
