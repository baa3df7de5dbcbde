"""DNS names of nodes, Celestial-style, under the ``leonet`` zone:

* ``<id>.<shell>.leonet``: satellite ``id`` (its index within the shell, 0-based, as in
  Celestial) of shell ``shell`` (the shell's index, or its name in DNS-safe form);
* ``<name>.gst.leonet``: a ground station, by the DNS-safe form of its host name;
* ``<node>.leonet``: any node by its leonet name or host name (``s0p3n4.leonet``).

The DNS-safe form of a name is lowercase, with every character other than a-z, 0-9
and ``-`` replaced by ``-``.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

from ..orbits import Constellation

ZONE = "leonet"
GST = "gst"
_UNSAFE = re.compile(r"[^a-z0-9-]+")


def dns_label(name: str) -> str:
    """The DNS-safe form of a name (lowercase a-z, 0-9 and -; at most 63 characters)."""
    return (_UNSAFE.sub("-", name.lower()).strip("-") or "node")[:63]


class NodeNames:
    """Resolves the names a node can be called by (DNS names, node names, host names,
    Celestial-style shell/id pairs) to node indices, and back."""

    def __init__(self, constellation: Constellation, hosts: Sequence[str]):
        self.constellation = constellation
        self.hosts = list(hosts)
        n = constellation.num_satellites
        self.num_satellites = n
        self.shell_label: List[str] = [str(s.index) for s in constellation.shells]
        self._shell_by_label: Dict[str, int] = {}
        for s in constellation.shells:
            self._shell_by_label[str(s.index)] = s.index
            label = dns_label(s.name)
            if label != GST:
                self._shell_by_label.setdefault(label, s.index)
        self.dns: List[str] = []
        for sat in constellation.satellites:
            shell = constellation.shells[sat.shell]
            self.dns.append(f"{sat.index - shell.first}.{sat.shell}.{ZONE}")
        for g, host in enumerate(self.hosts[n:]):
            self.dns.append(f"{dns_label(host)}.{GST}.{ZONE}")
        self._by_name: Dict[str, int] = {}
        for i, d in enumerate(self.dns):
            self._by_name[d] = i
        for i, host in enumerate(self.hosts):   # node names and host names, any case
            for alias in (host, constellation.satellites[i].name if i < n
                          else constellation.ground_stations[i - n].name):
                self._by_name.setdefault(alias.lower(), i)
                self._by_name.setdefault(f"{dns_label(alias)}.{ZONE}", i)
                if i >= n:
                    self._by_name.setdefault(dns_label(alias), i)

    def shell_index(self, label: str) -> Optional[int]:
        return self._shell_by_label.get(label.lower())

    def satellite_in_shell(self, shell: int, sat: str) -> Optional[int]:
        """Node index of satellite ``sat`` (id within the shell, or a satellite name)."""
        if not 0 <= shell < len(self.constellation.shells):
            return None
        s = self.constellation.shells[shell]
        if sat.isdigit():
            k = int(sat)
            return s.first + k if 0 <= k < s.size else None
        i = self.lookup(sat)
        return i if i is not None and i < self.num_satellites and self.constellation.satellites[i].shell == shell \
            else None

    def ground_station(self, name: str) -> Optional[int]:
        i = self.lookup(name)
        return i if i is not None and i >= self.num_satellites else None

    def lookup(self, name: str) -> Optional[int]:
        """Node index of any accepted name (trailing dot and case ignored), or None."""
        key = name.rstrip(".").lower()
        if key in self._by_name:
            return self._by_name[key]
        parts = key.split(".")
        if len(parts) == 3 and parts[2] == ZONE and parts[1] != GST:   # <id>.<shell name>.leonet
            shell = self.shell_index(parts[1])
            if shell is not None:
                return self.satellite_in_shell(shell, parts[0])
        return None
