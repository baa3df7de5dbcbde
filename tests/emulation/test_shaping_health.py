"""The health monitor's arithmetic: histogram bins as the daemons write them, windows
from cumulative counters, and the overload verdict. Pure: the counters are written
here as a daemon would report them (the real daemon is driven into overload in
test_shaping_overload.py)."""
import pytest

from leonet.emulation.shaping.health import HealthLimits, ShaperMonitor, bin_middle_ms, bin_of_ns


@pytest.mark.parametrize("ns", [0, 999, 1_000, 15_999, 16_000, 17_500, 250_000, 3_000_000, 1_234_567_890])
def test_bins_hold_their_values_within_seven_percent(ns):
    middle = bin_middle_ms(bin_of_ns(ns)) * 1e6
    assert abs(middle - ns) <= max(1_000, 0.07 * ns)


def test_bins_are_monotonic():
    values = [int(1.1 ** k) for k in range(0, 220)]
    bins = [bin_of_ns(v * 1000) for v in values]
    assert bins == sorted(bins)


class _Counters:
    """Cumulative counters in the daemons' format, advanced by hand."""

    name = "nfqueue"
    accuracy_ms = 0.5

    def __init__(self):
        self.c = {"packets": 0, "cpu_s": 0.0, "enobufs": 0, "late_hist": [], "transit_hist": [],
                  "kernel": {"pending": 0, "queue_dropped": 0, "user_dropped": 0}}

    def add(self, packets, late_ns, transit_ns, pending=0, user_dropped=0):
        def bump(key, ns):
            hist = dict(self.c[key])
            b = bin_of_ns(ns)
            hist[b] = hist.get(b, 0) + packets
            self.c[key] = sorted(hist.items())
        self.c["packets"] += packets
        bump("late_hist", late_ns)
        bump("transit_hist", transit_ns)
        self.c["kernel"] = {"pending": pending, "queue_dropped": 0,
                            "user_dropped": self.c["kernel"]["user_dropped"] + user_dropped}

    def health_counters(self):
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.c.items()}


def test_a_healthy_window_then_an_overload_episode_then_recovery():
    counters = _Counters()
    started, ended = [], []
    monitor = ShaperMonitor(counters, limits=HealthLimits(accuracy_ms=0.5),
                            on_overload=lambda e, w: started.append(e), on_recovery=ended.append)
    monitor.sample()
    counters.add(1000, late_ns=20_000, transit_ns=30_000)
    w = monitor.sample()
    assert not w.overloaded and monitor.health().ok and w.transit_p50_ms < 0.05
    counters.add(1000, late_ns=20_000, transit_ns=4_000_000, pending=5_000, user_dropped=12)
    w = monitor.sample()
    assert set(w.reasons) >= {"hop_wait", "dropped"} and w.dropped == 12
    assert started and started[0].ongoing and not monitor.health().ok
    counters.add(1000, late_ns=20_000, transit_ns=30_000)
    monitor.sample()
    health = monitor.health()
    assert health.ok and health.ever_overloaded and ended and not health.episodes[0].ongoing
    assert health.episodes[0].worst_transit_p50_ms > 3.0
    assert "overloaded earlier" in health.summary()


def test_workers_re_classed_from_outside_are_warned_about_once(caplog):
    counters = _Counters()
    counters.c.update(realtime=True, workers=[{"policy": "fifo"}, {"policy": "fifo"}])
    monitor = ShaperMonitor(counters, limits=HealthLimits(accuracy_ms=0.5))
    with caplog.at_level("WARNING", logger="leonet.emulation.shaping.health"):
        monitor.sample()
        assert not caplog.records
        counters.c["workers"] = [{"policy": "idle"}, {"policy": "idle"}]
        monitor.sample()
        monitor.sample()
        assert len(caplog.records) == 1 and "idle/idle" in caplog.records[0].getMessage()
        counters.c["workers"] = [{"policy": "fifo"}, {"policy": "fifo"}]
        monitor.sample()
        assert len(caplog.records) == 2 and "SCHED_FIFO again" in caplog.records[1].getMessage()
        counters.c.update(realtime=False, workers=[{"policy": "other"}])   # not asked for: nothing to say
        monitor.sample()
        assert len(caplog.records) == 2


def test_made_up_waits_are_judged_where_the_daemon_reports_them():
    """The compiled daemon makes up hop-to-hop waits that no tbf queue explains and
    reports them (``wait_hist``): those, not the transits (which hold legitimate tbf
    queueing), decide ``hop_wait``; about two of them per round trip cannot be made up,
    so the bound is half the accuracy."""
    counters = _Counters()
    counters.c["wait_hist"] = []
    monitor = ShaperMonitor(counters, limits=HealthLimits(accuracy_ms=0.5))
    monitor.sample()

    def waits(packets, ns):
        hist = dict(counters.c["wait_hist"])
        hist[bin_of_ns(ns)] = hist.get(bin_of_ns(ns), 0) + packets
        counters.c["wait_hist"] = sorted(hist.items())
    counters.add(1000, late_ns=20_000, transit_ns=5_000_000)   # a congested tbf: transits long
    waits(900, 50_000)                                          # but the waits made up are short
    w = monitor.sample()
    assert not w.overloaded and w.wait_p50_ms < 0.1, w
    counters.add(1000, late_ns=20_000, transit_ns=60_000)
    waits(900, 400_000)                                         # 0.4 ms per hop: a busy machine
    w = monitor.sample()
    assert w.reasons == ("hop_wait",), w
    episode = monitor.health().episodes[0]
    assert episode.worst_wait_p50_ms > 0.3 and "made-up wait" in episode.describe()


def test_sparse_traffic_is_not_judged_on_a_few_samples():
    counters = _Counters()
    monitor = ShaperMonitor(counters, limits=HealthLimits(accuracy_ms=0.5))
    monitor.sample()
    counters.add(5, late_ns=20_000_000, transit_ns=20_000_000)
    assert not monitor.sample().overloaded


def test_a_missing_compiler_is_a_clear_error_not_a_fallback(tmp_path, monkeypatch):
    from leonet.emulation.shaping import nfqd_build
    monkeypatch.setenv("LEONET_CACHE_DIR", str(tmp_path))   # nothing built there yet
    monkeypatch.setenv("PATH", str(tmp_path))                # no cc, no gcc
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(nfqd_build.BuildError, match="libnetfilter-queue-dev") as exc:
        nfqd_build.ensure_built()
    assert "nfqueue_daemon: python" in str(exc.value)   # the way out where nothing can be installed


def test_the_daemon_builds_into_a_source_keyed_cache(tmp_path, monkeypatch):
    import shutil
    from leonet.emulation.shaping import nfqd_build
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (scripts/install.sh installs one)")
    monkeypatch.setenv("LEONET_CACHE_DIR", str(tmp_path))
    binary = nfqd_build.ensure_built()
    assert binary.parent == tmp_path / "nfqd" and binary.name.startswith("leonet-nfqd-")
    assert nfqd_build.ensure_built() == binary   # cached: not rebuilt
    import subprocess
    usage = subprocess.run([str(binary)], capture_output=True, text=True)
    assert usage.returncode == 2 and "CONTROL_FD" in usage.stderr


def test_the_installer_installs_what_the_daemon_build_needs_and_builds_it():
    """A fresh machine gets the compiled daemon from scripts/install.sh (which
    scripts/test.sh runs first): every package the build names is in its apt list."""
    from pathlib import Path
    from leonet.emulation.shaping import nfqd_build
    installer = (Path(__file__).resolve().parents[2] / "scripts" / "install.sh").read_text()
    apt_list = installer.split("apt_packages=(", 1)[1].split(")", 1)[0].split()
    assert set(nfqd_build.BUILD_PACKAGES.split()) <= set(apt_list)
    assert "-m leonet.emulation.shaping.nfqd_build" in installer
