"""The interface every link-shaping backend implements.

A *link end* is one interface in one namespace; the emulator shapes the egress of both
ends of every link, each with the link's one-way delay. Backends receive changes in
batches (one call per tick), so they can group work per namespace.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Tuple


@dataclass(frozen=True)
class LinkParams:
    """Egress shaping of one link end. Units are in the names."""

    delay_ms: float
    bandwidth_mbps: float = 0.0   #: 0 = unlimited
    loss_percent: float = 0.0


#: (namespace name, interface name) of a link end
LinkEnd = Tuple[str, str]


class LinkShaper(abc.ABC):
    """A delay/bandwidth/loss backend for link egress."""

    #: backend name as used on the command line: "netem" or "nfqueue"
    name: str = ""
    #: the accuracy this backend states for one hop's delay, in ms (see docs/emulation.md)
    accuracy_ms: float = 0.0

    @abc.abstractmethod
    def attach(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        """Start shaping newly created interfaces."""

    def prepare(self, ends: Iterable[LinkEnd]) -> None:
        """Optionally get ready for a later :meth:`attach` of these ends, whose
        interfaces need not exist yet (the controller calls it between ticks with the
        next tick's new links, so the slow part of attaching leaves the tick). Each
        call replaces the previous set. The default does nothing."""

    @abc.abstractmethod
    def update(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        """Change parameters of attached interfaces in place (never delete and re-add)."""

    @abc.abstractmethod
    def detach(self, ends: Iterable[LinkEnd]) -> None:
        """Forget interfaces that are about to be deleted (or already are)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the backend and release everything it created (processes, rules, qdiscs)."""

    def health_counters(self) -> Optional[Mapping]:
        """Cumulative counters of the backend's own work (packets, release lateness
        and hop-to-hop transit histograms, backlog, CPU), which
        :class:`~leonet.emulation.shaping.health.ShaperMonitor` turns into overload
        reports; None for a backend that does not measure itself (a kernel qdisc)."""
        return None
