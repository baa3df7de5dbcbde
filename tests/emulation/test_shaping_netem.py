"""The netem backend and backend selection. The netem tests need a kernel with
sch_netem and skip with the reason otherwise (the CI kernel has none)."""
import re
import subprocess

import pytest

from conftest import require_root
from leonet.emulation.shaping import make_shaper, resolve_backend
from leonet.emulation.shaping.base import LinkParams
from leonet.emulation.shaping.probe import Prober
from leonet.emulation.shaping.scratch import ScratchNet
from leonet.errors import ConfigError

from . import shaping_helpers as h


def _netem():
    require_root()
    from leonet.emulation.shaping.netem import netem_available
    return netem_available()


@pytest.fixture
def netem():
    if not _netem():
        pytest.skip("this kernel has no sch_netem (`tc qdisc add ... netem` is refused); "
                    "the nfqueue backend covers it")
    from leonet.emulation.shaping.netem import NetemShaper
    s = NetemShaper()
    yield s
    s.close()


def test_auto_picks_what_the_kernel_supports():
    has_netem = _netem()
    assert resolve_backend("auto") == ("netem" if has_netem else "nfqueue")


def test_netem_requested_without_sch_netem_is_a_config_error():
    if _netem():
        pytest.skip("this kernel has sch_netem")
    with pytest.raises(ConfigError, match="no sch_netem"):
        make_shaper("netem")


def test_netem_single_link_and_in_place_change(netem):
    with ScratchNet.pairs("test-netem1", 1) as net, Prober(net.names[0]) as probe:
        ends = net.ends()
        netem.attach([(end, LinkParams(10.0)) for end in ends])
        dst = net.address(0, "b")
        probe.run(dst, 3, 0.01)
        errs = h.errors(probe.run(dst, 100, 0.005).received, 20.0)
        h.assert_delay_errors(errs, netem.accuracy_ms)
        handle = h.root_qdisc(*ends[0])["handle"]

        def on_send(i):
            if i == 100:
                netem.update([(end, LinkParams(3.0)) for end in ends])

        result = probe.run(dst, 200, 0.002, on_send=on_send)
        assert result.lost == 0 and result.reordered == 0
        assert h.root_qdisc(*ends[0])["handle"] == handle  # changed, not re-created
        errs = h.errors(result.rtt_ms[130:], 6.0)
        h.assert_delay_errors(errs, netem.accuracy_ms)


def test_netem_options_read_back(netem):
    with ScratchNet.pairs("test-netem2", 1) as net:
        end = net.end(0, "a")
        netem.attach([(end, LinkParams(12.5, bandwidth_mbps=40_000, loss_percent=1.0))])
        text = subprocess.run(["ip", "netns", "exec", end[0], "tc", "qdisc", "show", "dev", end[1]],
                              capture_output=True, text=True, check=True).stdout
        # e.g. "qdisc netem 1: root refcnt 2 limit 1000000 delay 12.5ms loss 1% rate 40Gbit"
        assert re.search(r"netem 1: root .*limit 1000000", text), text
        assert re.search(r"delay 12\.5ms", text), text
        assert re.search(r"loss 1%", text), text
        assert re.search(r"rate 40Gbit", text), text
        netem.detach([end])
        assert h.root_qdisc(*end)["kind"] != "netem"


def test_netem_chain_equals_sum(netem):
    delays = [1.0, 2.0, 3.5, 0.5]
    with ScratchNet.chain("test-netem5", 5) as net, Prober(net.names[0]) as probe:
        netem.attach([(net.end(k, s), LinkParams(d)) for k, d in enumerate(delays) for s in "ab"])
        dst = net.address(3, "b")
        probe.run(dst, 3, 0.01)
        errs = h.errors(probe.run(dst, 100, 0.005).received, 2 * sum(delays))
        h.assert_delay_errors(errs, 2 * netem.accuracy_ms)
