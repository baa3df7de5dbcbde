"""The info API and DNS served inside every node (Celestial-compatible in spirit).

* :mod:`.names`   DNS names of nodes (``<id>.<shell>.leonet``, ``<name>.gst.leonet``)
* :mod:`.model`   the answers, from the network's current snapshot (transport-free)
* :mod:`.dns`     DNS replies (A, PTR) with dnslib
* :mod:`.server`  HTTP and DNS sockets inside every node's namespace, one asyncio loop

See docs/infoapi.md for the design and every JSON field.
"""
from .model import INFO_ADDRESS, InfoModel
from .names import NodeNames, dns_label

__all__ = ["INFO_ADDRESS", "InfoModel", "NodeNames", "dns_label"]
