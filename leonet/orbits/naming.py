"""The forms a node's name takes outside Python, and the rules that keep them unique.

A ground station called ``São Paulo`` is the host ``Sao-Paulo`` (Mininet, shells,
``/run/netns/ln-Sao-Paulo``) and the DNS label ``sao-paulo`` (``sao-paulo.gst.leonet``).
Two stations whose forms coincide (``New York`` and ``New-York``) would be ambiguous
there, so a scenario may not have both; nor may a station be named like a satellite
(``s0p0n0``).
"""
from __future__ import annotations

import re
import unicodedata

_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_DNS_UNSAFE = re.compile(r"[^a-z0-9-]+")
#: satellite node names: s<shell>p<plane>n<slot>
SATELLITE_NAME = re.compile(r"^s(\d+)p(\d+)n(\d+)$")


def host_form(name: str) -> str:
    """The Mininet- and shell-safe form of a name: ASCII letters, digits, ``_.-``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _HOST_UNSAFE.sub("-", ascii_name).strip("-") or "node"


def dns_form(name: str) -> str:
    """The DNS label of a name: lower-case a-z, 0-9 and ``-``, at most 63 characters."""
    return (_DNS_UNSAFE.sub("-", name.lower()).strip("-") or "node")[:63]


def looks_like_satellite(name: str) -> bool:
    """Whether a name (in any case) has the form of a satellite's node name."""
    return SATELLITE_NAME.match(host_form(name).lower()) is not None
