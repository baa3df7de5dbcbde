"""Packets of the ocean-alert system (Celestial section 5). Times are ns since the epoch
on the host's one clock (the paper's shared PTP clock)."""
from __future__ import annotations

import struct

READING_PORT = 7100
RESULT_PORT = 7101
#: b"BR", sensor id, group, seq, send time, reading (pressure, dbar)
READING = struct.Struct("!2sHHIqd")
#: b"BX", sensor id, group, seq, sensor send time, server node, server receive time,
#: server send time, prediction (dbar)
RESULT = struct.Struct("!2sHHIqIqqd")


def reading(sensor: int, group: int, seq: int, send_ns: int, value: float) -> bytes:
    return READING.pack(b"BR", sensor, group, seq, send_ns, value)


def parse_reading(data: bytes):
    if len(data) < READING.size or data[:2] != b"BR":
        return None
    return READING.unpack_from(data)[1:]


def result(sensor: int, group: int, seq: int, send_ns: int, server: int, rx_ns: int, tx_ns: int,
           prediction: float) -> bytes:
    return RESULT.pack(b"BX", sensor, group, seq, send_ns, server, rx_ns, tx_ns, prediction)


def parse_result(data: bytes):
    if len(data) < RESULT.size or data[:2] != b"BX":
        return None
    return RESULT.unpack_from(data)[1:]
