"""Choose a link-shaping backend: ``auto`` picks netem when the kernel has it, else
nfqueue."""
from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from ...schema import check_choice
from ..config import BACKENDS
from .base import LinkShaper


def resolve_backend(kind: str) -> str:
    """The concrete backend ``kind`` stands for on this machine."""
    check_choice("emulation.backend", kind, BACKENDS)
    if kind != "auto":
        return kind
    from .netem import netem_available
    return "netem" if netem_available() else "nfqueue"


def make_shaper(kind: str = "auto", **options: Any) -> LinkShaper:
    """Create the backend ``kind`` ("auto", "netem", "nfqueue" or "none").

    ``options`` go to the backend's constructor: for nfqueue ``overhead_ms``,
    ``calibrate``, ``queue_maxlen``, ``realtime``, ``ipv6``; for netem ``limit``.
    Raises :class:`~leonet.errors.ConfigError` when the backend cannot work here.
    """
    backend = resolve_backend(kind)
    if backend == "netem":
        from .netem import NetemShaper, netem_available
        if not netem_available():
            raise ConfigError("emulation.backend", kind, "this kernel has no sch_netem "
                              "(`tc qdisc add ... netem` is refused)",
                              "use backend `auto` or `nfqueue`, or load the module: modprobe sch_netem")
        return NetemShaper(**options)
    if backend == "nfqueue":   # its rules go in over netlink (nft_rules.py): no tool to check for
        from .nfqueue import NfqueueShaper
        return NfqueueShaper(**options)
    from .none import NoShaper
    return NoShaper()
