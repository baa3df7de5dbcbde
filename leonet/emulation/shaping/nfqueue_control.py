"""The control channel between :class:`NfqueueShaper` and its daemon.

A ``SOCK_SEQPACKET`` socketpair: every request is one datagram ``op, seq`` followed by
fixed-size records, and gets one reply ``op, seq, errno`` followed by text (an error
message, or JSON for ``STATS``). A tick's delay changes for thousands of link ends
travel as a few datagrams of 20-byte records.
"""
from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Iterator, Sequence

OP_NAMESPACE_ADD = 1     # payload: ns_id u32, then the namespace name (UTF-8)
OP_NAMESPACE_REMOVE = 2  # payload: ns_id records
OP_BIND = 3              # payload: QUEUE records: bind each queue, then set its parameters
OP_SET = 4               # payload: QUEUE records: change parameters in place
OP_UNBIND = 5            # payload: KEY records: release held packets, unbind
OP_STATS = 6             # reply: JSON
OP_CONFIG = 7            # payload: JSON {"overhead_ns": int, ...}
OP_QUIT = 8
OP_RATE = 9              # payload: RATE records: the tbf of each queue's link end (compiled daemon)

HEADER = struct.Struct("<BI")
REPLY = struct.Struct("<BIi")
#: ns_id, queue number, one-way delay in ns, loss probability as u32 fraction
QUEUE = struct.Struct("<IIQI")
#: ns_id, queue number
KEY = struct.Struct("<II")
#: ns_id, queue number, tbf rate in bytes/s (0: none), tbf bucket in bytes
RATE = struct.Struct("<IIQQ")
NS_ID = struct.Struct("<I")
#: records per datagram (keeps datagrams well under the socket buffer size)
MAX_RECORDS = 2048


class DaemonError(RuntimeError):
    """The nfqueue daemon refused a request or is gone."""


def encode(op: int, seq: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(op, seq) + payload


def chunks(records: Sequence[bytes], size: int = MAX_RECORDS) -> Iterator[bytes]:
    for start in range(0, len(records), size):
        yield b"".join(records[start:start + size])


class ControlClient:
    """The shaper's end: blocking request/reply, one request at a time (the tick
    thread and the link-deletion thread share it)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._seq = 0
        self._lock = threading.Lock()

    def request(self, op: int, payload: bytes = b"", timeout: float = 60.0) -> str:
        with self._lock:
            return self._request(op, payload, timeout)

    def _request(self, op: int, payload: bytes, timeout: float) -> str:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self.sock.settimeout(timeout)
        try:
            self.sock.send(encode(op, self._seq, payload))
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise DaemonError("the nfqueue daemon exited")
                rop, rseq, status = REPLY.unpack_from(data)
                if rseq == self._seq:
                    text = data[REPLY.size:].decode("utf-8", "replace")
                    if status:
                        raise DaemonError(f"nfqueue daemon: {text or status}")
                    return text
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as exc:
            raise DaemonError(f"the nfqueue daemon does not answer: {exc}") from exc

    def records(self, op: int, records: Sequence[bytes]) -> None:
        for payload in chunks(records):
            self.request(op, payload)

    def stats(self) -> dict:
        return json.loads(self.request(OP_STATS))
