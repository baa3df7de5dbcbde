"""The ``netem`` backend: one netem root qdisc per link end, changed in place.

Every link end gets ``netem delay D loss L rate R limit 1000000`` as its root qdisc
(handle ``1:``). Updates send ``RTM_NEWQDISC`` without create flags, the netlink form
of ``tc qdisc change``: the qdisc, its queue and its packets in flight stay; the full
option set is sent every time (netem resets options left out). Messages for one
namespace go out together on a socket that lives there (see :mod:`.tc_netlink` for the
encoding and why it is not pyroute2's ``tc()``).

Units: delay in ns (``TCA_NETEM_LATENCY64``, plus 64 ns ticks in the legacy field),
loss as a u32 fraction, rate in bytes/s (``TCA_NETEM_RATE64`` from 2**32 B/s up).
Unlimited bandwidth is sent as 1 Tbit/s rather than no rate: with a rate, netem
queues each packet behind the previous one, so a delay decrease never reorders packets
already in flight (the nfqueue backend behaves the same way).
"""
from __future__ import annotations

import errno
import os
import threading
from typing import Dict, Iterable, List, Tuple

from .. import netns
from . import tc_netlink as tc
from .base import LinkEnd, LinkParams, LinkShaper
from .tc_qdiscs import NamespaceTc
from .units import mbps_to_bytes_per_s, ms_to_ns, percent_to_u32


def netem_options_for(params: LinkParams, limit: int = tc.NETEM_LIMIT) -> bytes:
    rate = mbps_to_bytes_per_s(params.bandwidth_mbps) if params.bandwidth_mbps > 0 else 0
    return tc.netem_options(ms_to_ns(params.delay_ms), percent_to_u32(params.loss_percent), rate, limit)


class NetemShaper(LinkShaper):
    """Kernel netem qdiscs; needs ``sch_netem`` (see :func:`netem_available`)."""

    name = "netem"
    accuracy_ms = 0.1

    def __init__(self, limit: int = tc.NETEM_LIMIT) -> None:
        self.limit = limit
        self._tc = NamespaceTc()
        self._params: Dict[LinkEnd, LinkParams] = {}
        self._lock = threading.RLock()
        self._seq = 0

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0x7FFFFFFF or 1
        return self._seq

    def _send(self, items: List[Tuple[LinkEnd, LinkParams]], create: bool, what: str) -> None:
        self._tc.prepare(end for end, _ in items)
        per_ns: Dict[str, List[bytes]] = {}
        for end, params in items:
            msg = tc.qdisc_message("netem", netem_options_for(params, self.limit), self._tc.ifindex(end),
                                   self._next_seq(), create=create)
            per_ns.setdefault(end[0], []).append(msg)
        for ns, errs in self._tc.request(per_ns).items():
            tc.raise_on_errors(errs, f"{what} netem qdiscs in {ns}")

    def attach(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        with self._lock:
            items = list(ends)
            self._send(items, create=True, what="creating")
            self._params.update(items)

    def update(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        with self._lock:
            items = [(end, p) for end, p in ends if self._params.get(end) != p]
            missing = [end for end, _ in items if end not in self._params]
            if missing:
                raise KeyError(f"update of link ends that are not attached: {missing[:3]}")
            if items:
                self._send(items, create=False, what="changing")
                self._params.update(items)

    def detach(self, ends: Iterable[LinkEnd]) -> None:
        with self._lock:
            self._remove([end for end in ends if self._params.pop(end, None) is not None])

    def _remove(self, ends: List[LinkEnd]) -> None:
        per_ns: Dict[str, List[bytes]] = {}
        for end in ends:
            idx = self._tc.known_ifindex(end)
            if idx is not None and netns.exists(end[0]):
                per_ns.setdefault(end[0], []).append(tc.delete_root_message(idx, self._next_seq()))
        for ns, errs in self._tc.request(per_ns).items():
            tc.raise_on_errors(errs, f"removing netem qdiscs in {ns}", ignore=tc.GONE)
        self._tc.forget(ends)

    def release_namespaces(self, names: Iterable[str]) -> None:
        """Forget namespaces the caller is about to delete (their qdiscs go with them)."""
        with self._lock:
            names = set(names)
            for end in [e for e in self._params if e[0] in names]:
                del self._params[end]
            self._tc.forget_namespaces(names)

    def params(self) -> Dict[LinkEnd, LinkParams]:
        return dict(self._params)

    def close(self, remove_kernel_state: bool = True) -> None:
        with self._lock:
            try:
                if remove_kernel_state:
                    self._remove(list(self._params))
            finally:
                self._params.clear()
                self._tc.close()


_available: Dict[str, bool] = {}


def netem_available() -> bool:
    """Whether this kernel can create a netem qdisc (tried on ``lo`` of a scratch
    namespace; the answer is cached). Needs root."""
    if "netem" in _available:
        return _available["netem"]
    name = f"{netns.PREFIX}probe-netem-{os.getpid()}"
    worker = netns.NetnsThread()
    try:
        worker.create([name])

        def trial() -> List[tc.NetlinkError]:
            sock = tc.TcSocket()
            try:
                opts = tc.netem_options(ms_to_ns(1.0), 0, 0)
                return sock.request([tc.qdisc_message("netem", opts, 1, 1, create=True)])
            finally:
                sock.close()

        errors = worker.run(name, trial)
    finally:
        worker.close()
        netns.delete(name)
    if errors and errors[0].errno not in (errno.ENOENT, errno.EOPNOTSUPP):
        raise OSError(errors[0].errno, f"probing for sch_netem: {errors[0]}")
    _available["netem"] = not errors
    return _available["netem"]
