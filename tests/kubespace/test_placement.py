"""CNPA (Algorithm 1): Evaluate, greedy k-center, local search, clustering, exact search."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leonet.kubespace import (brute_force, cnpa, evaluate, greedy_k_center, kmeans, local_search,
                              nearest, optimal_placement, select_representatives,
                              snapshot_features, summarize)
from leonet.kubespace.baselines import best_single, near_equator, random_placements
from leonet.kubespace.exhaustive import SearchLimit
from leonet.kubespace.objective import scores_with_each


def tiny(seed, T=4, M=7, N=9, integer=False, inf_rate=0.0):
    rng = np.random.default_rng(seed)
    m = rng.random((T, M, N)) * 100
    if integer:                     # many ties, as in real max-of-min objectives
        m = np.round(m / 10)
    if inf_rate:
        m[rng.random(m.shape) < inf_rate] = np.inf
    return m


def test_evaluate_is_max_over_time_and_satellites_of_min_over_selection():
    m = tiny(0)
    sel = [1, 4]
    expected = max(min(m[t, g, s] for g in sel) for t in range(m.shape[0]) for s in range(m.shape[2]))
    assert evaluate(m, sel) == expected
    assert np.array_equal(nearest(m, sel), np.minimum(m[:, 1, :], m[:, 4, :]))
    s = summarize(m, sel)
    assert s.worst == expected and s.unreachable == 0
    assert s.mean == pytest.approx(np.minimum(m[:, 1, :], m[:, 4, :]).mean())


def test_scores_with_each_matches_evaluate_for_every_candidate():
    m = tiny(1, inf_rate=0.05)
    base = nearest(m, [2])
    worst, unreachable, _ = scores_with_each(m, base)
    for g in range(m.shape[1]):
        assert worst[g] == evaluate(m, sorted({2, g}))
        assert unreachable[g] == np.isinf(np.minimum(base, m[:, g, :])).sum()


@pytest.mark.parametrize("seed", range(8))
def test_greedy_first_pick_is_the_best_single_node(seed):
    m = tiny(seed)
    best, score = brute_force(m, 1)
    assert evaluate(m, greedy_k_center(m, 1)) == score


@pytest.mark.parametrize("seed", range(12))
def test_exhaustive_search_matches_brute_force(seed):
    m = tiny(seed, integer=seed % 2 == 0, inf_rate=0.03 if seed % 3 == 0 else 0.0)
    for k in (1, 2, 3):
        _, score = brute_force(m, k)
        greedy = greedy_k_center(m, k)
        exact = optimal_placement(m, k, greedy, batch=4)
        assert exact.score == score
        assert evaluate(m, exact.selection) == score
        assert evaluate(m, greedy) >= score


@pytest.mark.parametrize("seed", range(8))
def test_greedy_plus_local_search_is_never_better_than_the_optimum(seed):
    m = tiny(seed, T=3, M=8, N=12)
    k = 3
    _, optimum = brute_force(m, k)
    ls = local_search(m, greedy_k_center(m, k))
    assert ls.score >= optimum
    assert ls.score == evaluate(m, ls.selection)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), plateau=st.booleans())
def test_local_search_never_worsens_any_start(seed, k, plateau):
    m = tiny(seed, T=3, M=8, N=10, integer=seed % 2 == 0)
    start = sorted(np.random.default_rng(seed).choice(8, size=k, replace=False).tolist())
    ls = local_search(m, start, plateau_moves=plateau)
    assert ls.history[0] == evaluate(m, start)
    if plateau:
        assert all(b <= a for a, b in zip(ls.history, ls.history[1:]))
    else:
        assert all(b < a for a, b in zip(ls.history, ls.history[1:]))   # strictly improving swaps
    assert ls.score == evaluate(m, ls.selection) <= evaluate(m, start)
    assert len(set(ls.selection)) == k


def test_plateau_moves_lower_the_mean_at_equal_max():
    # Satellite 0 is far from everyone (sets the max); the others decide the mean.
    m = np.array([[[50, 1, 1, 9],        # station 0
                   [50, 9, 9, 9],        # station 1
                   [50, 9, 1, 1],        # station 2
                   [50, 1, 9, 1]]], dtype=float)
    strict = local_search(m, [1])
    assert strict.selection == [1] and strict.swaps == 0
    moved = local_search(m, [1], plateau_moves=True)
    assert moved.score == 50 and moved.selection != [1]
    assert nearest(m, moved.selection).mean() < nearest(m, [1]).mean()


def test_local_search_stops_at_the_iteration_cap():
    m = tiny(3, T=3, M=10, N=12)
    start = [0, 1, 2]
    assert local_search(m, start, max_iterations=0).selection == start
    capped = local_search(m, start, max_iterations=1)
    assert capped.swaps <= 1


def test_local_search_result_is_a_local_optimum():
    m = tiny(5, T=3, M=8, N=12)
    ls = local_search(m, [0, 1, 2])
    for i, g in itertools.product(range(3), range(8)):
        if g in ls.selection:
            continue
        swapped = ls.selection[:i] + [g] + ls.selection[i + 1:]
        assert evaluate(m, swapped) >= ls.score


def test_exhaustive_search_respects_its_limits():
    rng = np.random.default_rng(0)
    m = rng.random((6, 40, 60))
    with pytest.raises(SearchLimit):
        optimal_placement(m, 6, greedy_k_center(m, 6), node_limit=1)


def test_kmeans_recovers_separated_clusters_and_is_deterministic():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]])
    X = np.concatenate([c + rng.normal(scale=0.3, size=(30, 2)) for c in centers])
    _, labels, _ = kmeans(X, 3, seed=1)
    for block in range(3):
        assert len(set(labels[block * 30:(block + 1) * 30])) == 1
    assert len(set(labels)) == 3
    assert np.array_equal(labels, kmeans(X, 3, seed=1)[1])


def test_representatives_are_the_members_nearest_their_centroid():
    # Three regimes of snapshots: the representatives must come one from each.
    rng = np.random.default_rng(2)
    base = [rng.random((5, 7)) * 100 for _ in range(3)]
    snaps = np.stack([base[i // 10] + rng.normal(scale=0.5, size=(5, 7)) for i in range(30)])
    reps = select_representatives(snaps, 3, seed=0, feature_sample=None)
    assert sorted(i // 10 for i in reps.indices) == [0, 1, 2]
    X = snapshot_features(snaps, feature_sample=None)
    for r in reps.indices:
        members = np.flatnonzero(reps.labels == reps.labels[r])
        centroid = X[members].mean(axis=0)
        assert r == members[((X[members] - centroid) ** 2).sum(axis=1).argmin()]


def test_features_are_standardised_and_a_sample_keeps_distances_roughly():
    rng = np.random.default_rng(3)
    snaps = rng.random((50, 40, 50)) * 100
    snaps[:, 0, 0] = 7.0                      # a constant feature
    snaps[3, 1, 1] = np.inf                   # an unreachable pair
    X = snapshot_features(snaps, feature_sample=None)
    assert X.shape == (50, 2000)
    assert np.allclose(X.mean(axis=0), 0, atol=1e-9)
    assert np.allclose(X[:, 0], 0)
    assert np.isfinite(X).all()
    P = snapshot_features(snaps, feature_sample=500, seed=0)
    assert P.shape == (50, 500)
    i, j = np.triu_indices(50, 1)
    full = np.linalg.norm(X[i] - X[j], axis=1) / np.sqrt(2000)
    part = np.linalg.norm(P[i] - P[j], axis=1) / np.sqrt(500)
    assert np.median(np.abs(part / full - 1)) < 0.1


def test_cnpa_is_deterministic_and_uses_all_snapshots_for_its_score():
    rng = np.random.default_rng(4)
    m = rng.random((40, 12, 30)) * 50
    a = cnpa(m, 3, clusters=5, seed=7)
    b = cnpa(m, 3, clusters=5, seed=7)
    assert a.selection == b.selection and a.score == b.score
    assert np.array_equal(a.representatives.indices, b.representatives.indices)
    assert a.score == evaluate(m, a.selection)
    assert a.score_representatives == evaluate(m[a.representatives.indices], a.selection)
    assert a.score_representatives <= a.score
    assert len(a.representatives.indices) == 5


def test_cnpa_with_every_snapshot_as_representative_is_greedy_plus_local_search():
    m = tiny(6, T=5, M=9, N=11)
    result = cnpa(m, 3, clusters=5)
    ls = local_search(m, greedy_k_center(m, 3))
    assert result.selection == ls.selection and result.score == ls.score


def test_random_and_single_node_baselines():
    m = tiny(7, T=4, M=10, N=12)
    rb = random_placements(m, 3, range(5))
    assert len(rb.summaries) == 5
    assert rb.mean_worst == pytest.approx(np.mean([evaluate(m, s) for s in rb.selections]))
    assert rb.mean_worst >= brute_force(m, 3)[1]
    lats = np.array([0, 5, 30, -8, 50, 60, 2, -45, 11, 9.9])
    allowed = near_equator(lats, 10)
    assert set(allowed) == {0, 1, 3, 6, 9}
    g = best_single(m, allowed)
    assert g in allowed
    assert evaluate(m, [g]) == min(evaluate(m, [a]) for a in allowed)


@pytest.mark.parametrize("seed", range(6))
def test_best_addition_picks_what_best_candidate_picks(seed):
    from leonet.kubespace.objective import best_addition, best_candidate
    rng = np.random.default_rng(seed)
    m = np.round(rng.uniform(1, 9, size=(7, 10, 6)))          # rounded: many ties on the max
    m[rng.random(m.shape) < 0.1] = np.inf
    base = None if seed % 2 else m[:, 3, :]
    allowed = rng.random(10) < 0.7
    allowed[0] = True
    worst, unreachable, mean = scores_with_each(m, base)
    g, key = best_addition(m, base, allowed)
    assert g == best_candidate(worst, unreachable, mean, allowed)
    assert key == (worst[g], unreachable[g], pytest.approx(mean[g]))
