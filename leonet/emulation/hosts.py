"""Mininet hosts on leonet's named namespaces, for the interactive Mininet CLI and
for scripts that want Mininet's ``host.cmd()`` API.

:class:`LeoHost` is a stock Mininet ``Host`` whose shell joins the node's existing
namespace with ``ip netns exec`` (which also applies the node's DNS settings from
``/etc/netns/<namespace>/``, so ``*.leonet`` names resolve) and starts only when first
used, so 1,700 nodes do not cost 1,700 shells.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, List

from . import mininet_log  # noqa: F401  (before the rest of Mininet; see there)
from mininet.net import Mininet
from mininet.node import Host


if TYPE_CHECKING:
    from .network import LeoNetwork
    from .nodes import EmulatedNode


class LeoHost(Host):
    """A Mininet host living in a leonet node's named network namespace."""

    def __init__(self, node: "EmulatedNode", **params):
        self.node = node
        self._enter = ["ip", "netns", "exec", node.netns]
        super().__init__(node.host, inNamespace=False, **params)

    # The shell starts lazily: Mininet calls startShell() from __init__.
    def startShell(self, mnopts=None):  # noqa: N802 (Mininet's name)
        if getattr(self, "_shell_wanted", False):
            super().startShell(mnopts="-cd")

    def _ensure_shell(self) -> None:
        if self.shell is None:
            self._shell_wanted = True
            self.startShell()

    def _popen(self, cmd, **params):
        if cmd and cmd[0] == "mnexec" and self.shell is None:
            cmd = self._enter + list(cmd)
        return super()._popen(cmd, **params)

    def sendCmd(self, *args, **kwargs):  # noqa: N802
        self._ensure_shell()
        return super().sendCmd(*args, **kwargs)

    def cmd(self, *args, **kwargs):
        self._ensure_shell()  # Mininet's cmd() refuses a host whose shell is not running yet
        return super().cmd(*args, **kwargs)

    def popen(self, *args, **kwargs):
        kwargs.setdefault("mncmd", list(self._enter))
        return super().popen(*args, **kwargs)

    def IP(self, intf=None) -> str:  # noqa: N802
        return self.node.address

    def terminate(self) -> None:
        if self.shell is not None:
            super().terminate()


def mininet_view(network: "LeoNetwork") -> Mininet:
    """A Mininet object whose hosts are the run's nodes (for ``mininet.cli.CLI``)."""
    net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False)
    hosts: List[LeoHost] = [LeoHost(n) for n in network.nodes]
    net.hosts = hosts
    net.nameToNode = {h.name: h for h in hosts}
    net.built = True
    return net


def stop_hosts(net: Mininet) -> None:
    for h in net.hosts:
        h.terminate()
