"""One-way delays per direction and per hop (leonet probe) against the engine, through
the nfqueue backend: the fidelity check round trips cannot give."""
import numpy as np
import pytest

from leonet.cli.main import main
from leonet.emulation.owd_validation import OneWayDelayProbe, summarise_one_way
from leonet.emulation.owdprobe import probe_run
from leonet.emulation.run import EmulationRun

from conftest import require_root
from . import scenarios


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require_root()
    r = EmulationRun.from_scenario(scenarios.write(tmp_path_factory.mktemp("owd")), backend="nfqueue")
    engine = r.engine
    off = next((float(o) for o in np.arange(0, 6 * 3600, 30)
                if len(engine.snapshot(float(o)).path("Berlin", "Madrid").hops) >= 5), None)
    if off is None:
        pytest.skip("no multi-hop Berlin-Madrid path in 6 hours")
    r.config = r.config.with_overrides(offset_s=off)
    try:
        r.start()
        yield r
    finally:
        r.stop()


def test_each_direction_and_each_hop_matches_the_engine(run):
    accuracy = run.shaper.accuracy_ms
    results = probe_run(run, "Berlin", "Madrid", count=30, interval_s=0.03)
    assert [r.leg.direction for r in results] == ["forward", "reverse"]
    assert results[0].leg.hops[0] == "Berlin" and results[1].leg.hops[0] == "Madrid"
    for r in results:
        assert r.received >= 25, f"{r.leg.direction}: {r.received}/30 arrived"
        hops = len(r.leg.hops) - 1
        for k in range(1, hops + 1):
            errors = np.sort(r.at_hop(k) - r.leg.expected_ms[k])
            assert len(errors) >= 25
            # systematic error judged by the lower quartile; the median only loosely (a loaded machine)
            assert errors[len(errors) // 4] < accuracy * k + 0.5, (r.leg.direction, k, errors)
            assert errors[len(errors) // 2] < accuracy * k + 3.0, (r.leg.direction, k, errors)
            assert errors[0] > -0.2, (r.leg.direction, k, errors)           # never faster than light
        medians = [float(np.median(r.at_hop(k))) for k in range(1, hops + 1)]
        assert medians == sorted(medians), "arrivals along the path must be in order"


def test_continuous_one_way_validation_per_direction(run):
    """The benchmark's probe (bench_rtt_fidelity.py): stamped datagrams both ways while the
    run ticks, each direction against the engine's delay on its forwarding path."""
    import threading
    accuracy = run.shaper.accuracy_ms
    probe = OneWayDelayProbe(run, [("Berlin", "Madrid")], duration_s=3.0, interval_s=0.02)
    ticker = threading.Thread(target=run.controller.run, args=(4.0,), daemon=True)
    probe.start()
    ticker.start()
    samples = probe.wait()
    run.controller.stop()
    ticker.join()
    assert [d for d in probe.directions] == [("Berlin", "Madrid"), ("Madrid", "Berlin")]
    for a, b in probe.directions:
        mine = [s for s in samples if (s.source, s.target) == (a, b)]
        s = summarise_one_way(mine)
        assert s["samples"] >= 140 and s["counted"] >= 0.9 * (s["samples"] - s["straddling"]), s
        assert s["user_stamped"] <= 0.05 * s["counted"], "the kernel's transmit stamps should date the sends"
        hops = int(s["hops_max"])
        assert hops >= 4, s
        errors = np.sort([x.error_ms for x in mine if x.error_ms is not None and not x.straddles])
        # as above: the lower quartile strict, the median loose, never faster than the engine
        assert errors[len(errors) // 4] < accuracy * hops + 0.5, (a, b, s)
        assert errors[len(errors) // 2] < accuracy * hops + 3.0, (a, b, s)
        assert errors[0] > -0.2, (a, b, s)


def test_leonet_probe_prints_both_directions(run, capsys):
    assert main(["probe", "Berlin", "Madrid", "--count", "5"]) == 0
    out = capsys.readouterr().out
    assert "forward: Berlin -> Madrid" in out and "reverse: Madrid -> Berlin" in out
    assert "5/5 arrived" in out, out
    assert main(["probe", "Berlin", "Nowhere"]) == 2
