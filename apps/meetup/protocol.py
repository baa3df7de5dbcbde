"""The video conference's packets (Celestial section 4): a fixed header, then padding up
to the packet size. Times are ns since the epoch on the host's clock, which every node
shares (the paper's shared PTP clock, exactly)."""
from __future__ import annotations

import struct

MAGIC = b"LM"
#: magic, sender client id, sequence number, send time, bridge id, bridge receive time,
#: bridge send time
HEADER = struct.Struct("!2sBIqHqq")
NO_BRIDGE = 0xFFFF
MEDIA_PORT = 7000
CONTROL_PORT = 7001


def media(sender: int, seq: int, send_ns: int, size: int) -> bytes:
    head = HEADER.pack(MAGIC, sender, seq, send_ns, NO_BRIDGE, 0, 0)
    return head + bytes(max(0, size - len(head)))


def parse(data: bytes):
    """(sender, seq, send_ns, bridge, bridge_rx_ns, bridge_tx_ns) or None."""
    if len(data) < HEADER.size or data[:2] != MAGIC:
        return None
    return HEADER.unpack_from(data)[1:]


def stamp(data: bytes, bridge: int, rx_ns: int, tx_ns: int) -> bytes:
    """The packet as a bridge forwards it: its id and its receive and send times."""
    magic, sender, seq, send_ns, _, _, _ = HEADER.unpack_from(data)
    return HEADER.pack(magic, sender, seq, send_ns, bridge, rx_ns, tx_ns) + data[HEADER.size:]
