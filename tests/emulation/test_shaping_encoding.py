"""Wire encodings of the shaping backends, checked against iproute2 and the uapi
headers. No root needed."""
import struct

import pytest

from leonet.emulation.shaping import nfqueue_protocol as nfq
from leonet.emulation.shaping import tc_netlink as tc
from leonet.emulation.shaping.base import LinkParams
from leonet.emulation.shaping.netem import netem_options_for
from leonet.emulation.shaping.units import (mbps_to_bytes_per_s, ms_to_ns, ns_to_ticks,
                                            percent_to_u32)


def attrs(data: bytes, off: int = 0):
    """{type: payload} of a run of netlink attributes."""
    out = {}
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        out[kind & 0x3FFF] = data[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def test_units():
    assert ms_to_ns(12.5) == 12_500_000
    assert ns_to_ticks(12_500_000) == 195_312           # 64 ns ticks, as tc computes
    assert ns_to_ticks(10 ** 15) == 2 ** 32 - 1          # saturates
    assert mbps_to_bytes_per_s(40_000) == 5_000_000_000  # 40 Gbit/s
    assert mbps_to_bytes_per_s(1) == 125_000
    assert percent_to_u32(1) == 42_949_673               # tc's "loss 1%"
    assert percent_to_u32(100) == 2 ** 32 - 1
    assert percent_to_u32(-3) == 0


# iproute2 6.1 `tc qdisc add dev X root handle 1: netem delay 12.5ms loss 1% rate 40gbit
# limit 1000000`, TCA_OPTIONS payload as sent (recorded with strace -e write=).
TC_NETEM_OPTIONS = bytes.fromhex(
    "f0fa0200" "40420f00" "295c8f02" "00000000" "00000000" "00000000"   # tc_netem_qopt
    "0c000800" "00f2052a01000000"                                      # TCA_NETEM_RATE64
    "14000600" "ffffffff" "00000000" "00000000" "00000000")            # TCA_NETEM_RATE


def test_netem_options_match_tc():
    ours = netem_options_for(LinkParams(delay_ms=12.5, bandwidth_mbps=40_000, loss_percent=1.0))
    assert ours[:24] == TC_NETEM_OPTIONS[:24]            # same qopt: ticks, limit, loss
    theirs_attrs, our_attrs = attrs(TC_NETEM_OPTIONS, 24), attrs(ours, 24)
    assert our_attrs[tc.TCA_NETEM_RATE64] == theirs_attrs[tc.TCA_NETEM_RATE64]
    assert our_attrs[tc.TCA_NETEM_RATE] == theirs_attrs[tc.TCA_NETEM_RATE]
    # plus nanosecond latency, which tc sends only for sub-tick precision
    assert struct.unpack("=q", our_attrs[tc.TCA_NETEM_LATENCY64])[0] == 12_500_000


def test_netem_unlimited_is_a_fifo_rate_and_small_rates_are_32_bit():
    unlimited = attrs(netem_options_for(LinkParams(5.0)), 24)
    assert struct.unpack("=Q", unlimited[tc.TCA_NETEM_RATE64])[0] == tc.NETEM_UNLIMITED_BYTES_PER_S
    small = attrs(netem_options_for(LinkParams(5.0, bandwidth_mbps=100)), 24)
    assert tc.TCA_NETEM_RATE64 not in small
    assert struct.unpack_from("=I", small[tc.TCA_NETEM_RATE])[0] == 12_500_000


def test_tbf_options_carry_64_bit_rate_and_burst():
    rate = mbps_to_bytes_per_s(40_000)
    a = attrs(tc.tbf_options(rate))
    cell_log, linklayer, _ovh, _align, _mpu, rate32 = struct.unpack_from("=BBHhHI", a[tc.TCA_TBF_PARMS])
    assert linklayer == tc.TC_LINKLAYER_ETHERNET and rate32 == 2 ** 32 - 1
    assert struct.unpack("=Q", a[tc.TCA_TBF_RATE64])[0] == rate
    burst = struct.unpack("=I", a[tc.TCA_TBF_BURST])[0]
    assert burst == tc.tbf_burst_bytes(rate) == 5_000_000
    limit = struct.unpack_from("=I", a[tc.TCA_TBF_PARMS], 24)[0]
    assert limit == burst + rate // 10  # 100 ms of queue


def test_qdisc_message_flags():
    create = tc.qdisc_message("netem", b"", 7, 1, create=True)
    change = tc.qdisc_message("netem", b"", 7, 2, create=False)
    _len, kind, flags, seq, _pid = struct.unpack_from("=IHHII", create)
    assert kind == tc.RTM_NEWQDISC and flags & tc.NLM_F_REPLACE and flags & tc.NLM_F_CREATE
    flags = struct.unpack_from("=IHHII", change)[2]
    assert not flags & (tc.NLM_F_CREATE | tc.NLM_F_REPLACE | tc.NLM_F_EXCL)  # "tc qdisc change"
    family, ifindex, handle, parent, _info = struct.unpack_from("=BxxxiIII", change, 16)
    assert (ifindex, handle, parent) == (7, 0x10000, 0xFFFFFFFF)


def test_nfqueue_verdict_and_packet_layout():
    msg = nfq.verdict_prefix(513, batch=True, verdict=nfq.NF_ACCEPT) + struct.pack(">I", 99)
    length, kind, flags, _seq, _pid = struct.unpack_from("=IHHII", msg)
    assert length == len(msg) == 32
    assert kind == (3 << 8) | nfq.NFQNL_MSG_VERDICT_BATCH and flags == nfq.NLM_F_REQUEST
    assert struct.unpack_from(">H", msg, 18)[0] == 513          # queue number, big endian
    verdict, pid = struct.unpack_from(">II", msg, 24)
    assert (verdict, pid) == (nfq.NF_ACCEPT, 99)
    # a packet message as the kernel builds it: NFQA_PACKET_HDR first
    body = struct.pack("=BB", 0, 0) + struct.pack(">H", 7)
    body += struct.pack("=HH", 11, nfq.NFQA_PACKET_HDR) + struct.pack(">IHB", 123456, 0x0800, 4) + b"\0"
    body += struct.pack("=HH", 8, 6) + struct.pack(">I", 3)   # NFQA_IFINDEX_OUTDEV
    packet = struct.pack("=IHHII", 16 + len(body), nfq.MSG_PACKET, 0, 0, 0) + body
    assert nfq.parse_packet(packet) == (7, 123456, nfq.MSG_PACKET, None)   # no payload: no key
    # with the first 20 bytes of an IPv4 packet: the key ignores TTL and checksum
    def ip_header(ttl, checksum):
        return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 84, 0xBEEF, 0x4000, ttl, 1, checksum,
                           bytes([10, 64, 0, 1]), bytes([10, 64, 0, 9]))
    keys = []
    for ttl, checksum in ((64, 0x1234), (63, 0x1334)):
        payload = struct.pack("=HH", 24, nfq.NFQA_PAYLOAD) + ip_header(ttl, checksum)
        message = struct.pack("=IHHII", 16 + len(body) + len(payload), nfq.MSG_PACKET, 0, 0, 0) + body + payload
        queue, pid, kind, key = nfq.parse_packet(message)
        assert (queue, pid, kind) == (7, 123456, nfq.MSG_PACKET)
        keys.append(key)
    assert keys[0] == keys[1] == b"\x00\x54\xbe\xef" + b"\x01" + bytes([10, 64, 0, 1, 10, 64, 0, 9])


def test_nfqueue_bind_config():
    cmd, params = nfq.bind_messages(4, 5000, seq=10)
    a = attrs(cmd, 20)
    assert a[nfq.NFQA_CFG_CMD][0] == nfq.NFQNL_CFG_CMD_BIND
    a = attrs(params, 20)
    assert struct.unpack(">IB", a[nfq.NFQA_CFG_PARAMS][:5]) == (nfq.COPY_RANGE, nfq.NFQNL_COPY_PACKET)
    assert struct.unpack(">I", a[nfq.NFQA_CFG_QUEUE_MAXLEN])[0] == 5000
    assert struct.unpack(">I", a[nfq.NFQA_CFG_FLAGS])[0] & nfq.NFQA_CFG_F_GSO


def test_make_shaper_rejects_unknown_backend():
    from leonet.emulation.shaping import make_shaper
    from leonet.errors import ConfigError
    with pytest.raises(ConfigError, match="use one of"):
        make_shaper("wireguard")
