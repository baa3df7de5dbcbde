"""Greedy and exact hitting sets against brute force."""
import itertools

import numpy as np
import pytest

from leonet.komet import exact_hitting_set, greedy_hitting_set, is_hitting_set


def brute_force_minimum(m: np.ndarray) -> int:
    """Size of a minimum hitting set, by trying every subset in increasing size."""
    cols = m.shape[1]
    if not m.any():
        return 0
    for size in range(1, cols + 1):
        for subset in itertools.combinations(range(cols), size):
            if is_hitting_set(m, subset):
                return size
    raise AssertionError("no hitting set")


def random_instances(count, seed=7):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        clients, sats = rng.integers(1, 9), rng.integers(1, 9)
        m = rng.random((clients, sats)) < rng.uniform(0.15, 0.6)
        m[rng.integers(0, clients)] = False            # a client with no candidate is ignored
        yield m


def test_greedy_always_covers_every_client_that_has_a_candidate():
    for m in random_instances(300):
        chosen = greedy_hitting_set(m)
        assert is_hitting_set(m, chosen)
        assert len(set(chosen.tolist())) == len(chosen)


def test_exact_is_minimal_and_greedy_never_smaller_on_brute_forceable_cases():
    gaps = 0
    for m in random_instances(300):
        best = brute_force_minimum(m)
        exact = exact_hitting_set(m)
        greedy = greedy_hitting_set(m)
        assert is_hitting_set(m, exact) and len(exact) == best
        assert len(greedy) >= best
        gaps += len(greedy) > best
    assert gaps < 30    # greedy is optimal on most small instances


def test_greedy_is_minimal_on_a_regional_case():
    # Five clients along a line, satellites above them covering neighbours: the optimum
    # (sats 1 and 3) is what greedy finds.
    m = np.array([[1, 1, 0, 0, 0],
                  [1, 1, 1, 0, 0],
                  [0, 1, 1, 1, 0],
                  [0, 0, 1, 1, 1],
                  [0, 0, 0, 1, 1]], bool)
    assert sorted(greedy_hitting_set(m).tolist()) == [1, 3] and brute_force_minimum(m) == 2


def test_greedy_tie_break_order_preferred_then_cost_then_index():
    m = np.ones((2, 3), bool)
    assert greedy_hitting_set(m).tolist() == [0]
    assert greedy_hitting_set(m, preferred=np.array([False, True, True])).tolist() == [1]
    cost = np.array([[5.0, 3.0, 2.0], [5.0, 3.0, 2.0]])
    assert greedy_hitting_set(m, cost=cost).tolist() == [2]
    assert greedy_hitting_set(m, preferred=np.array([False, True, False]), cost=cost).tolist() == [1]


def test_exact_prefers_deployed_columns_among_minimum_sets():
    m = np.array([[1, 1, 0], [0, 1, 1]], bool)           # {1} is the only minimum
    assert exact_hitting_set(m, preferred=np.array([True, False, True])).tolist() == [1]
    m = np.array([[1, 1], [1, 1]], bool)                 # {0} or {1}
    assert exact_hitting_set(m, preferred=np.array([False, True])).tolist() == [1]


def test_empty_and_uncoverable_inputs():
    assert greedy_hitting_set(np.zeros((3, 4), bool)).tolist() == []
    assert exact_hitting_set(np.zeros((3, 0), bool)).tolist() == []
    with pytest.raises(ValueError):
        greedy_hitting_set(np.ones(3, bool))
