"""Each strategy on small hand-built traces whose right answer is known."""
import numpy as np
import pytest

from leonet.errors import ConfigError
from leonet.komet import (Hysteresis, ManyToMany, MinMax, MinMaxMany, StepInput, Sticky, Threshold, make_strategy,
                          replication_sources, simulate)
from leonet.komet.strategies import aggregate_scores

from .helpers import hand_trace, one_client

INF = float("inf")


def with_isl(trace, hops=None):
    """Give a hand-built trace satellite-to-satellite delays (default: 1 ms per index apart)."""
    n = trace.num_satellites
    hops = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) * 1000.0 if hops is None else hops
    trace.satellite_delays = lambda index, source: hops[source]
    return trace


def served(strategy, trace):
    return simulate(strategy, trace).assignment


# ----------------------------------------------------------------------------- thresholds

@pytest.mark.parametrize("text, relative, absolute", [
    (0.1, 0.1, None), ("10%", 0.1, None), ("25 %", 0.25, None), ("500us", None, 500.0), ("500 µs", None, 500.0),
    ("1ms", None, 1000.0), ("0.5 ms", None, 500.0), (0, 0.0, None)])
def test_threshold_parses_fractions_percentages_and_one_way_delays(text, relative, absolute):
    t = Threshold.parse(text)
    assert (t.relative, t.absolute_us) == (relative, absolute)


@pytest.mark.parametrize("bad", ["10", "fast", -0.1, True, "1 s", float("nan")])
def test_threshold_rejects_what_it_cannot_read(bad):
    with pytest.raises(ConfigError) as exc:
        Threshold.parse(bad, "komet.threshold")
    assert exc.value.field == "komet.threshold"


# ----------------------------------------------------------------------------- one-to-one

def test_one_to_one_holds_within_ten_percent_and_moves_past_it():
    # sat0 serves at 1000 us; sat1 improves to 950 (5 %), exactly 900 (10 %: strict, stay),
    # then 899 (> 10 % better: move). sat2 never competes.
    trace = one_client([[1000, 1200, 5000],
                        [1000, 950, 5000],
                        [1000, 900, 5000],
                        [1000, 899, 5000],
                        [850, 899, 5000]])           # sat0 better again, but not by 10 % of 899
    assert served(make_strategy("one-to-one", 0.1), trace)[:, 0].tolist() == [0, 0, 0, 1, 1]
    assert served(MinMax(), trace)[:, 0].tolist() == [0, 1, 1, 1, 0]


def test_one_to_one_absolute_threshold_is_a_one_way_margin():
    trace = one_client([[3000, 4000], [3000, 2500], [3000, 2499]])   # 500 us better: stay; 501: move
    assert served(make_strategy("one-to-one", "500us"), trace)[:, 0].tolist() == [0, 0, 1]


def test_one_to_one_leaves_a_satellite_that_becomes_unreachable_or_ineligible():
    unreachable = one_client([[1000, 1050], [INF, 1050]])
    assert served(make_strategy("one-to-one", 0.25), unreachable)[:, 0].tolist() == [0, 1]
    outside = one_client([[1000, 1050], [1000, 1050]], active=[[True, True], [False, True]])
    assert served(make_strategy("one-to-one", 0.25), outside)[:, 0].tolist() == [0, 1]


def test_one_to_one_needs_exactly_one_client():
    with pytest.raises(ConfigError, match="exactly one client"):
        simulate(make_strategy("one-to-one"), hand_trace([[[1, 2], [3, 4]]]))


# ----------------------------------------------------------------------------- many-to-one

def test_many_to_one_scores_by_root_mean_square_and_minmax_by_sum():
    # sat0: (10, 10) -> sum 20, rms sqrt(200) = 14.1; sat1: (1, 17) -> sum 18, rms sqrt(290) = 17.0
    trace = hand_trace([[[10_000, 1_000], [10_000, 17_000]]])
    assert served(MinMax(), trace)[0].tolist() == [1, 1]
    assert served(make_strategy("many-to-one", 0.0), trace)[0].tolist() == [0, 0]
    assert served(make_strategy("many-to-one", 0.0, aggregate="sum"), trace)[0].tolist() == [1, 1]
    assert aggregate_scores(np.array([[3.0], [4.0]]), "rms")[0] == pytest.approx(5.0)


def test_many_to_one_switches_only_when_the_score_improves_by_the_threshold():
    # Two clients; the RMS of sat1 falls from 1.2x to 0.95x, then to 0.85x that of sat0.
    rows = [[[1000, 1200], [1000, 1200]],
            [[1000, 950], [1000, 950]],
            [[1000, 850], [1000, 850]]]
    a = served(Hysteresis(0.1), hand_trace(rows))
    assert a[:, 0].tolist() == [0, 0, 1] and (a[:, 0] == a[:, 1]).all()


# ----------------------------------------------------------------------------- many-to-many

def test_many_to_many_covers_every_client_with_the_fewest_replicas():
    # Candidates within 10 % of each client's best: c0 {0, 1}, c1 {1, 2}, c2 {2}, c3 {3, 2}.
    # sat2 hits c1, c2, c3 and sat0/sat1 hit c0: two replicas; each client its closest one.
    d = [[[1000, 1050, 5000, 9000],
          [5000, 1000, 1090, 9000],
          [9000, 9000, 1000, 9000],
          [9000, 9000, 1080, 1000]]]
    a = served(ManyToMany(0.1), hand_trace(d))[0]
    assert len(set(a.tolist())) == 2
    assert a[1] == a[2] == a[3] == 2
    assert a[0] in (0, 1)
    assert served(MinMaxMany(), hand_trace(d))[0].tolist() == [0, 1, 2, 3]


def test_many_to_many_absolute_candidates_and_unreachable_clients():
    d = [[[1000, 1900, 3000], [3000, 1000, 1950], [INF, INF, INF]]]
    a = served(ManyToMany("1ms"), hand_trace(d))[0]     # c0 {0, 1}, c1 {1, 2}: sat1 covers both
    assert a.tolist() == [1, 1, -1]


def test_many_to_many_ties_go_to_a_satellite_that_already_hosts_the_service():
    # Step 0: sat1 is the only common candidate. Step 1: sat0 and sat1 tie; sat1 is deployed.
    d = [[[1000, 1050, 9000], [9000, 1000, 1050]],
         [[1000, 1000, 9000], [1000, 1000, 9000]]]
    for tie_break in ("ever", "current"):
        assert served(ManyToMany(0.1, tie_break=tie_break), hand_trace(d)).tolist() == [[1, 1], [1, 1]]


def test_many_to_many_tie_break_ever_remembers_replicas_that_were_dropped():
    # sat1 serves at step 0, sat2 at step 1; at step 2 sat1 and sat3 tie: 'ever' returns to
    # sat1, 'current' keeps neither and takes the cheaper sat3.
    d = [[[9000, 1000, 9000, 9000]],
         [[9000, 9000, 1000, 9000]],
         [[9000, 1000, 9000, 999]]]
    ever = served(ManyToMany(0.1, tie_break="ever"), hand_trace(d))[:, 0]
    current = served(ManyToMany(0.1, tie_break="current"), hand_trace(d))[:, 0]
    assert ever.tolist() == [1, 2, 1]
    assert current.tolist() == [1, 2, 3]


def test_many_to_many_max_replicas_serves_uncovered_clients_from_their_closest_replica():
    d = [[[1000, 9000, 9000], [9000, 1000, 9000], [9000, 9000, 1000], [1000, 9000, 9000]]]
    a = served(ManyToMany(0.1, max_replicas=1), hand_trace(d))[0]
    assert a.tolist() == [0, 0, 0, 0]


def test_many_to_many_exact_solver_finds_a_smaller_set_than_greedy():
    # The textbook case where greedy takes the big set first: clients 1-6, sat A {1,2,3},
    # sat B {4,5,6}, sat C {1,2,4,5}. Greedy: C, A, B; optimum: A, B.
    A, B, C = 0, 1, 2
    member = {A: {0, 1, 2}, B: {3, 4, 5}, C: {0, 1, 3, 4}}
    d = [[[1000 if c in member[s] else 9000 for s in (A, B, C)] for c in range(6)]]
    greedy = served(ManyToMany(0.1), hand_trace(d))[0]
    exact = served(ManyToMany(0.1, solver="exact"), hand_trace(d))[0]
    assert len(set(greedy.tolist())) == 3
    assert sorted(set(exact.tolist())) == [A, B]


# ----------------------------------------------------------------------------- Sticky

def test_sticky_holds_the_longest_staying_candidate_nearest_the_previous_one():
    # One client; satellite-to-satellite hops are 1 ms per index apart. Step 0: MinMax takes
    # sat0. Step 1: sats 0-2 are within 10 % of the best; counting from step 1 they stay in
    # that band 1 (sat0), 4 (sat1) and 3 (sat2) steps. All three are among the 5 longest,
    # and sat0 is nearest to sat0 (no hop), so it is kept for its one step. Step 2: sat1
    # (3 more steps) and sat2 (2) remain; sat1 is one hop nearer and is held to step 4.
    # Step 5: only sat3 is in the band.
    rows = [[1000, 1050, 1090, 5000],
            [1000, 1020, 1050, 5000],
            [1300, 1000, 1080, 5000],
            [1300, 1000, 1090, 5000],
            [1300, 1000, 1200, 5000],
            [1300, 1300, 1300, 1000]]
    trace = with_isl(one_client(rows))
    assert served(Sticky(0.1, candidates=5), trace)[:, 0].tolist() == [0, 0, 1, 1, 1, 3]
    # Keeping only the longest-staying candidate takes sat1 at step 1 already.
    assert served(Sticky(0.1, candidates=1), trace)[:, 0].tolist() == [0, 1, 1, 1, 1, 3]


def test_sticky_breaks_equal_stays_by_the_hop_from_the_previous_satellite():
    hops = np.array([[0.0, 900.0, 100.0], [900.0, 0.0, 800.0], [100.0, 800.0, 0.0]])
    stay = with_isl(one_client([[1000, 5000, 5000], [1000, 1000, 1000], [1000, 1000, 1000]]), hops)
    assert served(Sticky(0.1), stay)[:, 0].tolist() == [0, 0, 0]           # staying costs no hop
    move = with_isl(one_client([[1000, 5000, 5000], [5000, 1000, 1000], [5000, 1000, 1000]]), hops)
    assert served(Sticky(0.1), move)[:, 0].tolist() == [0, 2, 2]           # the nearer of two equals


def test_sticky_without_a_forecast_is_a_clear_error():
    s = Sticky()
    s.reset(1, 2)
    s.step(StepInput(0, 0.0, np.array([[1.0, 2.0]])))
    with pytest.raises(ConfigError, match="forecast"):
        s.step(StepInput(1, 1.0, np.array([[1.0, 2.0]])))


@pytest.mark.parametrize("name, kwargs, field", [
    ("one-to-won", {}, "strategy"), ("one-to-one", {"threshold": 1.0}, "threshold"),
    ("sticky", {"threshold": "1ms"}, "threshold"), ("many-to-many", {"tie_break": "never"}, "tie_break"),
    ("many-to-one", {"aggregate": "mean"}, "aggregate"), ("many-to-many", {"max_replicas": 0}, "max_replicas"),
    ("many-to-many", {"hitting_set": "exact", "max_replicas": 3}, "max_replicas")])
def test_bad_strategy_settings_name_the_field(name, kwargs, field):
    with pytest.raises(ConfigError) as exc:
        make_strategy(name, **kwargs)
    assert exc.value.field == field


def test_each_new_replica_copies_from_the_closest_running_satellite():
    hops = np.abs(np.subtract.outer(np.arange(10), np.arange(10))) * 1000.0   # 1 ms per index apart
    sources = replication_sources({2, 7}, {2, 3, 6, 9, -1}, lambda s: hops[s])
    assert sources == {3: 2, 6: 7, 9: 7}          # several may share a source; kept ones copy nothing
    assert replication_sources(set(), {4}, lambda s: hops[s]) == {}      # the first deployment
