"""Build the compiled nfqueue daemon (``nfqd/nfqd.c``) and find its binary.

The binary is cached under a name that carries a hash of its source (and of the
compiler flags), so an updated leonet rebuilds it once and never runs a stale one.
``scripts/install.sh`` builds it (``python -m leonet.emulation.shaping.nfqd_build``);
otherwise the first nfqueue shaper builds it (about 1 s). Without a C compiler or
libnetfilter_queue's headers the build fails with a message naming the packages.

Cache directory: ``$LEONET_CACHE_DIR/nfqd``, else ``/var/cache/leonet/nfqd`` for root,
else ``~/.cache/leonet/nfqd``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

from ...errors import LeonetError

SOURCE = Path(__file__).resolve().parent / "nfqd" / "nfqd.c"
#: Debian/Ubuntu packages the build needs
BUILD_PACKAGES = "gcc libc6-dev pkg-config libnetfilter-queue-dev libmnl-dev"
CFLAGS = ["-O2", "-g", "-Wall", "-Wextra", "-pthread"]
#: the word on the daemon's command line by which `leonet cleanup` recognises it
PROCESS_MARKER = "leonet.emulation.shaping.nfqd"
#: the way out where nothing can be installed: the Python daemon, chosen explicitly
PYTHON_DAEMON_HINT = ("; or choose the Python daemon, which needs no compiler but carries about 10x less "
                      "traffic: `emulation: {nfqueue_daemon: python}` in the scenario")


class BuildError(LeonetError):
    """The compiled nfqueue daemon cannot be built on this machine."""


def cache_dir() -> Path:
    env = os.environ.get("LEONET_CACHE_DIR")
    if env:
        return Path(env) / "nfqd"
    if os.geteuid() == 0:
        return Path("/var/cache/leonet/nfqd")
    return Path.home() / ".cache" / "leonet" / "nfqd"


def _library_flags() -> List[str]:
    pkg_config = shutil.which("pkg-config")
    if pkg_config:
        res = subprocess.run([pkg_config, "--cflags", "--libs", "libnetfilter_queue", "libmnl"],
                             capture_output=True, text=True)
        if res.returncode == 0:
            return res.stdout.split()
    return ["-lnetfilter_queue", "-lmnl"]


def binary_path() -> Path:
    """Where the binary for the current source lives (it may not be built yet)."""
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(CFLAGS).encode()).hexdigest()[:12]
    return cache_dir() / f"leonet-nfqd-{digest}"


def ensure_built(verbose: bool = False) -> Path:
    """The path of the daemon binary, compiling it first if needed. Raises
    :class:`BuildError` with the fix when the toolchain or headers are missing."""
    target = binary_path()
    if target.is_file() and os.access(target, os.X_OK):
        return target
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise BuildError("the nfqueue backend's compiled data path needs a C compiler, and none was found; "
                         f"run scripts/install.sh, or: apt-get install {BUILD_PACKAGES}{PYTHON_DAEMON_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    cmd = [compiler, *CFLAGS, "-o", str(tmp), str(SOURCE), *_library_flags()]
    if verbose:
        print(" ".join(cmd), file=sys.stderr)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        tmp.unlink(missing_ok=True)
        detail = res.stderr.strip().splitlines()
        hint = ("libnetfilter_queue's or libmnl's headers are missing"
                if any("No such file" in line or "cannot find -l" in line for line in detail)
                else "the compiler failed")
        raise BuildError(f"building the nfqueue daemon failed ({hint}): {' | '.join(detail[-4:])}; "
                         f"run scripts/install.sh, or: apt-get install {BUILD_PACKAGES}{PYTHON_DAEMON_HINT}")
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)  # atomic: a concurrent build of the same source is harmless
    return target


def main() -> int:
    try:
        print(ensure_built(verbose="-v" in sys.argv[1:]))
    except BuildError as exc:
        print(f"leonet: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
