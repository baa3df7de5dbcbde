"""The interactive Mininet CLI, with leonet's commands added.

Stock Mininet commands work (``s0p1n2 ping Nome_AK``: node names after the first are
replaced by addresses). leonet adds ``time``, ``where NODE``, ``path A B``,
``links NODE``, ``handovers`` and ``check``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import mininet_log  # noqa: F401  (before the rest of Mininet; see there)
from mininet.cli import CLI
from mininet.log import error, output

from ..errors import LeonetError
from ..orbits.frames import ecef_to_geodetic

if TYPE_CHECKING:
    from .controller import Controller


class LeoCLI(CLI):
    prompt = "leonet> "

    def __init__(self, mininet, controller: "Controller", **kwargs):
        self.controller = controller
        super().__init__(mininet, **kwargs)

    # ------------------------------------------------------------------ helpers
    def _snapshot(self):
        snap = self.controller.network.snapshot
        if snap is None:
            raise LeonetError("the network is not up yet")
        return snap

    def onecmd(self, line):
        try:
            return super().onecmd(line)
        except LeonetError as exc:
            error(f"*** {exc}\n")
            return False

    def default(self, line):
        first, args, line = self.parseline(line)
        if first in self.mn:
            if not args:
                error(f"*** Please enter a command for node: {first} <cmd>\n")
                return
            node = self.mn[first]
            rest = " ".join(self.mn[a].IP() if a in self.mn else a for a in args.split(" "))
            node.sendCmd(rest)
            self.waitForNode(node)
        else:
            error(f"*** Unknown command: {line}\n")

    # ------------------------------------------------------------------ leonet commands
    def do_time(self, _line):
        """time: the emulated UTC time, tick and lag."""
        c = self.controller
        stats = c.stats.summary()
        output(f"{c.current_time_iso}  tick {c.tick_index}  offset {c.current_offset_s:.1f} s  "
               f"apply p50 {stats['apply_ms_p50']:.1f} ms  lag p99 {stats['lag_ms_p99']:.1f} ms\n")

    def do_where(self, line):
        """where NODE: position of a node (lat, lon, alt) and, for ground stations, its satellite."""
        name = line.strip()
        if not name:
            error("usage: where NODE\n")
            return
        snap = self._snapshot()
        node = self.controller.network.node(name)
        lat, lon, alt = ecef_to_geodetic(snap.positions_km[node.index])
        text = f"{node.name}: lat {float(lat):.3f} lon {float(lon):.3f} alt {float(alt):.1f} km"
        n_sat = snap.nodes.num_satellites
        if node.index >= n_sat:
            primary = int(snap.primary_satellite[node.index - n_sat])
            text += f"; primary satellite {snap.nodes.names[primary] if primary >= 0 else 'none'}"
        output(text + "\n")

    def do_path(self, line):
        """path A B: the engine's least-delay path now (one-way delay, hops)."""
        parts = line.split()
        if len(parts) != 2:
            error("usage: path A B\n")
            return
        net = self.controller.network
        a, b = (net.node(p).name for p in parts)
        p = self._snapshot().path(a, b)
        if not p.reachable:
            output(f"{a} -> {b}: unreachable\n")
            return
        output(f"{a} -> {b}: {p.delay_ms:.3f} ms one-way ({2 * p.delay_ms:.3f} ms RTT), "
               f"{p.distance_km:.0f} km, {len(p.hops) - 1} hops\n  " + " ".join(p.hops) + "\n")

    def do_links(self, line):
        """links NODE: the node's current links (interface, peer, kind, one-way delay)."""
        name = line.strip()
        if not name:
            error("usage: links NODE\n")
            return
        for ifname, peer, kind, delay in self.controller.network.interfaces_of(name):
            output(f"  {ifname:<8} {kind}  {peer:<24} {delay:8.3f} ms\n")

    def do_handovers(self, line):
        """handovers [N]: the last N (default 20) ground-station handovers."""
        n = int(line) if line.strip().isdigit() else 20
        events = self.controller.handovers[-n:]
        if not events:
            output("no handovers yet\n")
        for e in events:
            output(f"  {e.time_iso}  {e.ground_station}: {e.old} -> {e.new}\n")

    def do_check(self, _line):
        """check: walk every pair through the routing tables; report loops, black holes and detours."""
        output("\n".join(self.controller.network.self_check().report()) + "\n")
