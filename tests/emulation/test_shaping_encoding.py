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


def _nft_rule_as_iptables(chain: str, expressions: bytes) -> set:
    """Decode native nf_tables expressions into the iptables terms they stand for."""
    from leonet.emulation.shaping import nft_rules as nr
    terms = {{"prerouting": "PREROUTING", "postrouting": "POSTROUTING"}[chain]}
    loaded = None
    off = 0
    while off + 4 <= len(expressions):
        length, _ = struct.unpack_from("=HH", expressions, off)
        elem = attrs(expressions[off + 4:off + length])
        off += (length + 3) & ~3
        name, data = elem[1].rstrip(b"\0").decode(), attrs(elem[2])
        if name != "target":  # attribute 1 of the others: the register loaded or compared
            assert struct.unpack(">I", data[1])[0] == nr.NFT_REG_1
        if name == "meta":
            loaded = {nr.NFT_META_IIFNAME: "-i", nr.NFT_META_OIFNAME: "-o", nr.NFT_META_L4PROTO: "-p"}[
                struct.unpack(">I", data[2])[0]]
        elif name == "payload":
            assert struct.unpack(">I", data[2])[0] == nr.NFT_PAYLOAD_NETWORK_HEADER and data[4] == struct.pack(">I", 4)
            loaded = {12: "-s", 16: "-d"}[struct.unpack(">I", data[3])[0]]
        elif name == "fib":
            assert struct.unpack(">I", data[2])[0] == nr.NFT_FIB_RESULT_ADDRTYPE
            flag = struct.unpack(">I", data[3])[0]
            loaded = {nr.NFTA_FIB_F_SADDR: "--src-type", nr.NFTA_FIB_F_DADDR: "--dst-type"}[flag]
        elif name == "cmp":
            negate = "! " if struct.unpack(">I", data[2])[0] == nr.NFT_CMP_NEQ else ""
            value = attrs(data[3])[1]
            if loaded in ("-i", "-o"):
                assert len(value) == nr.IFNAMSIZ and not negate  # the whole buffer: an exact name
                terms.add(f"{loaded} " + value.rstrip(b"\0").decode())
            elif loaded in ("-s", "-d"):
                terms.add(f"{negate}{loaded} {'.'.join(map(str, value))}/32")
            elif loaded == "-p":
                assert value == b"\x06"
                terms.add(f"{negate}-p tcp")
            else:
                assert struct.unpack("=I", value)[0] == 2  # RTN_LOCAL
                terms.add(f"-m addrtype {negate}{loaded} LOCAL")
            loaded = None
        elif name == "target":
            assert data[1] == b"NFQUEUE\0" and struct.unpack(">I", data[2])[0] == 3
            queue, total, flags = struct.unpack("=HHH", data[3][:6])
            assert (total, flags) == (1, 0)  # one queue, no bypass: packets drop if the daemon dies
            terms.add(f"-j NFQUEUE --queue-num {queue}")
        else:
            raise AssertionError(f"unexpected expression {name}")
    return terms


def _iptables_terms(spec: str) -> set:
    """The terms of an ``iptables_rules`` rule spec, without its comment match."""
    spec = spec.replace(" -m comment --comment leonet", "")
    chain, rest = spec.split(" ", 1)
    terms, out = {chain}, rest
    for addrtype in ("! --src-type LOCAL", "--src-type LOCAL", "! --dst-type LOCAL", "--dst-type LOCAL"):
        if f"-m addrtype {addrtype}" in out:
            terms.add(f"-m addrtype {addrtype}")
            out = out.replace(f"-m addrtype {addrtype}", "")
    tail = out.split(" -j ", 1)
    terms.add("-j " + tail[1].strip())
    words = tail[0].split()
    i = 0
    while i < len(words):
        if words[i] == "!":
            terms.add(f"! {words[i + 1]} {words[i + 2]}")
            i += 3
        else:
            terms.add(f"{words[i]} {words[i + 1]}")
            i += 2
    return terms


@pytest.mark.parametrize("ifname, mode", [("l5", "split"), ("l1699", "split"), ("v0a", "split"),
                                          ("l5", "PREROUTING"), ("l5", "POSTROUTING")])
def test_native_rules_say_what_the_iptables_rules_said(ifname, mode):
    """The nf_tables rules match exactly what the iptables rules of the former backend
    matched, term by term (interface, peer address, protocol, address type, queue)."""
    from leonet.emulation.shaping import iptables_rules as it
    from leonet.emulation.shaping import nft_rules as nr
    native = [_nft_rule_as_iptables(chain, e) for chain, e in nr.end_rules(ifname, 7, mode)]
    legacy = [_iptables_terms(spec) for spec in it.rule_specs(ifname, 7, mode)]
    assert native == legacy
    assert len(native) == (4 if mode == "split" and ifname.startswith("l") else 1)


def test_nft_batch_framing():
    from leonet.emulation.shaping import nft_rules as nr
    m = nr._Messages(nr.NFPROTO_IPV4)
    m.table_and_chains()
    m.end("l5", 3, "split")
    batch = nr._batch(m)
    seen, off = [], 0
    while off < len(batch):
        length, kind, flags, seq = struct.unpack_from("=IHHI", batch, off)
        seen.append((kind, flags, seq))
        off += length
    assert off == len(batch)
    assert seen[0][0] == nr.NFNL_MSG_BATCH_BEGIN and seen[-1][0] == nr.NFNL_MSG_BATCH_END
    assert struct.unpack_from(">H", batch, 18)[0] == nr.NFNL_SUBSYS_NFTABLES   # res_id of the batch
    body = seen[1:-1]
    expected = [nr.NFT_MSG_NEWTABLE] + [nr.NFT_MSG_NEWCHAIN] * 2 + [nr.NFT_MSG_NEWRULE] * 4
    assert [k & 0xFF for k, _, _ in body] == expected
    assert all(k >> 8 == nr.NFNL_SUBSYS_NFTABLES for k, _, _ in body)
    assert [s for _, _, s in body] == list(range(1, 8))
    assert [bool(f & nr.NLM_F_ACK) for _, f, _ in body] == [False] * 6 + [True]   # one ACK: the last
