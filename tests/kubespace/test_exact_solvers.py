"""The exact search's set-cover decisions: the depth-first search, the integer
program (HiGHS) and the hybrid give the same answers and the same optimum."""
import math

import numpy as np
import pytest

from leonet.kubespace import brute_force, evaluate, greedy_k_center, optimal_placement
from leonet.kubespace.cover_milp import CoverMILP, DfsThenMILP
from leonet.kubespace.exhaustive import SearchLimit, _CoverSearch
from test_placement import tiny   # the same random instances


def rows(metric):
    """The (element, station) matrix of every (snapshot, satellite) element."""
    return metric.transpose(0, 2, 1).reshape(-1, metric.shape[1])


@pytest.mark.parametrize("solver", ["milp", "hybrid"])
@pytest.mark.parametrize("seed", range(10))
def test_optimum_matches_brute_force(seed, solver):
    m = tiny(seed, integer=seed % 2 == 0, inf_rate=0.03 if seed % 3 == 0 else 0.0)
    for k in (1, 2, 3):
        _, score = brute_force(m, k)
        exact = optimal_placement(m, k, greedy_k_center(m, k), batch=4, solver=solver)
        assert exact.score == score == exact.lower_bound
        assert evaluate(m, exact.selection) == score


@pytest.mark.parametrize("seed", range(6))
def test_milp_and_dfs_decide_the_thresholds_near_the_optimum_alike(seed):
    m = tiny(seed, T=5, M=12, N=15, integer=seed % 2 == 1)
    A = rows(m)
    values = np.unique(A[np.isfinite(A)])
    for k in (2, 3, 4):
        dfs, milp = _CoverSearch(A, 10**9, math.inf), CoverMILP(A, 10**9, math.inf)
        optimum = optimal_placement(m, k, greedy_k_center(m, k)).score
        at = int(np.searchsorted(values, optimum))
        for D in values[max(0, at - 12):at + 12]:        # both sides of the optimum, where it is hard
            a, b = dfs.feasible(float(D), k), milp.feasible(float(D), k)
            assert (a is None) == (b is None), (k, D)
            if b is not None:                     # a real cover of at most k stations
                assert len(b) <= k and (A[:, b] <= D).any(axis=1).all()


def test_hybrid_hands_hard_decisions_to_the_integer_program():
    rng = np.random.default_rng(3)
    m = rng.random((4, 25, 40))
    k = 4
    start = greedy_k_center(m, k)
    reference = optimal_placement(m, k, start, solver="dfs")
    A = rows(m)
    hybrid = DfsThenMILP(A, 10**9, math.inf, dfs_nodes=1)   # every non-trivial decision goes to HiGHS
    assert hybrid.feasible(reference.score, k) is not None
    below = float(np.max(A[A < reference.score]))
    assert hybrid.feasible(below, k) is None
    assert [e["solver"] for e in hybrid.log] == ["milp", "milp"]
    assert optimal_placement(m, k, start, solver="milp").score == reference.score


def test_milp_respects_the_time_limit():
    rng = np.random.default_rng(0)
    m = rng.random((6, 40, 60))
    with pytest.raises(SearchLimit):
        optimal_placement(m, 6, greedy_k_center(m, 6), time_limit_s=1e-9, solver="milp")
    with pytest.raises(SearchLimit):
        optimal_placement(m, 6, greedy_k_center(m, 6), time_limit_s=1e-9, solver="hybrid")
    with pytest.raises(ValueError, match="solver"):
        optimal_placement(m, 2, [0, 1], solver="simplex")


@pytest.fixture(scope="module")
def oneweb_hour():
    """OneWeb's real path delays (316 candidate stations x 636 satellites), every
    5 minutes for an hour: a real instance both solvers finish."""
    from leonet.kubespace import path_delay
    from leonet.orbits import load_constellation
    return path_delay(load_constellation("kubespace-oneweb"), np.arange(0.0, 3600.0 + 1, 300.0))


@pytest.mark.parametrize("k", [3, 5])
def test_all_solvers_prove_the_same_optimum_on_a_real_constellation(oneweb_hour, k):
    start = greedy_k_center(oneweb_hour, k)
    results = {s: optimal_placement(oneweb_hour, k, start, solver=s) for s in ("dfs", "milp", "hybrid")}
    scores = {s: r.score for s, r in results.items()}
    assert len(set(scores.values())) == 1, scores
    for r in results.values():
        assert r.lower_bound == r.score == evaluate(oneweb_hour, r.selection)
    assert scores["dfs"] <= evaluate(oneweb_hour, start)
