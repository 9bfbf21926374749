"""The built-in evaluators against sklearn, statsmodels and hand-computed values."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from statsmodels.stats.proportion import proportions_ztest

import within
from within._validation import validate
from within_metrics import ClickMetrics, PairwiseRanking
from within.groups import iter_group_pairs
from within_metrics.ranking import two_proportion_p_value


def click_metrics(**params) -> ClickMetrics:
    return ClickMetrics(validate(ClickMetrics.Params, params))


def ranking(**params) -> PairwiseRanking:
    return PairwiseRanking(validate(PairwiseRanking.Params, params))


def expanded(successes, trials, scores):
    """One positive row weighted by successes and one negative by failures."""
    labels = np.concatenate([np.ones(len(scores)), np.zeros(len(scores))])
    weights = np.concatenate([successes, trials - successes])
    return labels, np.concatenate([scores, scores]), weights


def random_clicks(seed: int, rows: int = 300):
    rng = np.random.default_rng(seed)
    trials = rng.integers(1, 200, rows).astype(float)
    scores = rng.uniform(0.01, 0.5, rows)
    successes = rng.binomial(trials.astype(int), scores).astype(float)
    return successes, trials, scores


# -- ClickMetrics ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_click_metrics_match_sklearn_on_expanded_rows(seed):
    successes, trials, scores = random_clicks(seed)
    metrics = click_metrics().evaluate(within.Outcome(successes, trials), scores)
    labels, expanded_scores, weights = expanded(successes, trials, scores)

    assert metrics["log_loss"] == pytest.approx(
        log_loss(labels, expanded_scores, sample_weight=weights), rel=1e-12)
    assert metrics["brier"] == pytest.approx(
        brier_score_loss(labels, expanded_scores, sample_weight=weights), rel=1e-12)
    assert metrics["auc"] == pytest.approx(
        roc_auc_score(labels, expanded_scores, sample_weight=weights), rel=1e-12)


def test_auc_gives_half_credit_to_tied_scores():
    successes, trials, scores = random_clicks(3, rows=500)
    # Few distinct scores: most pairs tie.
    scores = np.round(scores * 10) / 10
    assert len(np.unique(scores)) <= 6
    metrics = click_metrics().evaluate(within.Outcome(successes, trials), scores)
    labels, expanded_scores, weights = expanded(successes, trials, scores)
    assert metrics["auc"] == pytest.approx(
        roc_auc_score(labels, expanded_scores, sample_weight=weights), rel=1e-12)


def test_auc_small_hand_example():
    # One positive at 0.8 and at 0.5, one negative at 0.5 and at 0.2: pairs
    # (0.8, 0.5) win, (0.8, 0.2) win, (0.5, 0.5) tie, (0.5, 0.2) win -> 3.5 / 4.
    outcome = within.Outcome(np.array([1.0, 1.0, 0.0]), np.array([1.0, 2.0, 1.0]))
    metrics = click_metrics().evaluate(outcome, np.array([0.8, 0.5, 0.2]))
    assert metrics["auc"] == pytest.approx(3.5 / 4)


def test_auc_is_nan_with_one_outcome_only():
    outcome = within.Outcome(np.array([0.0, 0.0]), np.array([3.0, 4.0]))
    metrics = click_metrics().evaluate(outcome, np.array([0.1, 0.2]))
    assert math.isnan(metrics["auc"])
    assert metrics["log_loss"] > 0


def test_log_loss_clips_certain_wrong_predictions():
    outcome = within.Outcome(np.array([1.0]), np.array([1.0]))
    metrics = click_metrics().evaluate(outcome, np.array([0.0]))
    assert metrics["log_loss"] == pytest.approx(-math.log(1e-15))


def test_calibration_error_hand_example():
    # Four rows of 10 trials, two bins of 20 trials each.
    # Bin 1: mean score (0.1 + 0.2) / 2 = 0.15, observed 4 / 20 = 0.2 -> 0.05.
    # Bin 2: mean score 0.35, observed 12 / 20 = 0.6 -> 0.25.
    # ECE = 0.5 * 0.05 + 0.5 * 0.25 = 0.15.
    outcome = within.Outcome(np.array([0.0, 4.0, 6.0, 6.0]), np.full(4, 10.0))
    scores = np.array([0.1, 0.2, 0.3, 0.4])
    metrics = click_metrics(bins=2).evaluate(outcome, scores)
    assert metrics["calibration_error"] == pytest.approx(0.15)
    # Row order must not matter.
    order = np.array([2, 0, 3, 1])
    shuffled = within.Outcome(outcome.successes[order], outcome.trials[order])
    assert click_metrics(bins=2).evaluate(shuffled, scores[order])[
        "calibration_error"] == pytest.approx(0.15)


def test_calibration_error_bins_by_trials_not_rows():
    # 100 trials in all; rows span trials [0, 10), [10, 20), [20, 100): their
    # middles 5, 15 and 60 put the first two in bin 1 and the last in bin 2.
    # Bin 1 (20 trials): mean score (0.1 * 10 + 0.3 * 10) / 20 = 0.2, observed
    #   (1 + 1) / 20 = 0.1 -> 0.1, weight 0.2.
    # Bin 2 (80 trials): score 0.5, observed 48 / 80 = 0.6 -> 0.1, weight 0.8.
    outcome = within.Outcome(np.array([1.0, 1.0, 48.0]),
                             np.array([10.0, 10.0, 80.0]))
    metrics = click_metrics(bins=2).evaluate(outcome, np.array([0.1, 0.3, 0.5]))
    assert metrics["calibration_error"] == pytest.approx(0.2 * 0.1 + 0.8 * 0.1)


def test_calibration_error_is_zero_when_calibrated():
    outcome = within.Outcome(np.array([1.0, 3.0, 5.0]), np.full(3, 10.0))
    metrics = click_metrics(bins=3).evaluate(outcome, np.array([0.1, 0.3, 0.5]))
    assert metrics["calibration_error"] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("scores, message", [
    (np.array([0.1, 0.2]), "lengths differ"),
    (np.array([0.1, np.nan, 0.3]), "not finite"),
    (np.array([0.1, np.inf, 0.3]), "not finite"),
    (np.array([0.1, 1.5, 0.3]), r"outside \[0, 1\]"),
    (np.array([-0.1, 0.5, 0.3]), r"outside \[0, 1\]"),
])
def test_click_metrics_refuse_bad_scores(scores, message):
    outcome = within.Outcome(np.array([0.0, 1.0, 2.0]), np.full(3, 5.0))
    with pytest.raises(within.DataError, match=message):
        click_metrics().evaluate(outcome, scores)


def test_click_metrics_refuse_bad_outcomes():
    with pytest.raises(within.DataError, match="between 0 and trials"):
        click_metrics().evaluate(within.Outcome(np.array([6.0]), np.array([5.0])),
                                 np.array([0.5]))
    with pytest.raises(within.DataError, match="no rows"):
        click_metrics().evaluate(within.Outcome(np.zeros(0), np.zeros(0)),
                                 np.zeros(0))


def test_bins_param_is_validated():
    with pytest.raises(within.ConfigError, match="bins"):
        validate(ClickMetrics.Params, {"bins": 1}, prefix="evaluators[0].params")
    with pytest.raises(within.ConfigError, match='unknown key "bin"'):
        validate(ClickMetrics.Params, {"bin": 5})


# -- PairwiseRanking ------------------------------------------------------------


def hand_example():
    """Two groups with rows interleaved; see the test for the pairs."""
    groups = np.array(["g1", "g2", "g1", "g2", "g1", "g1"])
    successes = np.array([1.0, 20.0, 3.0, 40.0, 6.0, 1.0])
    trials = np.array([10.0, 100.0, 10.0, 100.0, 10.0, 10.0])
    scores = np.array([0.2, 0.3, 0.5, 0.1, 0.5, 0.9])
    return within.Outcome(successes, trials, groups), scores


def test_pairwise_accuracy_hand_example():
    # g1 rows (rate, score): r0 (0.1, 0.2), r2 (0.3, 0.5), r4 (0.6, 0.5),
    # r5 (0.1, 0.9). r0-r5 have equal rates and are left out.
    #   r0-r2 right 1, r0-r4 right 1, r2-r4 tied 0.5, r2-r5 wrong 0, r4-r5 wrong 0.
    # g2: r1 (0.2, 0.3), r3 (0.4, 0.1): wrong 0.
    # Six pairs, credit 2.5.
    # Significant at 0.05 (pooled z-test): r0-r4 (p 0.019), r4-r5 (p 0.019) and
    # r1-r3 (p 0.002), credit 1 of 3; r0-r2 (p 0.26), r2-r4 (p 0.18) and r2-r5
    # (p 0.26) are not.
    outcome, scores = hand_example()
    metrics = ranking().evaluate(outcome, scores)
    assert metrics["pairs"] == 6
    assert metrics["pairwise_accuracy"] == pytest.approx(2.5 / 6)
    assert metrics["significant_pairs"] == 3
    assert metrics["pairwise_accuracy_significant"] == pytest.approx(1 / 3)


def test_pairwise_significance_agrees_with_statsmodels():
    outcome, scores = hand_example()
    pairs = [(0, 2), (0, 4), (2, 4), (2, 5), (4, 5), (1, 3)]
    expected = []
    for a, b in pairs:
        counts = [outcome.successes[a], outcome.successes[b]]
        nobs = [outcome.trials[a], outcome.trials[b]]
        _, p_value = proportions_ztest(counts, nobs)
        ours = two_proportion_p_value(counts[0], nobs[0], counts[1], nobs[1])
        assert ours == pytest.approx(p_value, rel=1e-10)
        expected.append(p_value)
    for alpha in (0.01, 0.05, 0.2, 0.3):
        metrics = ranking(alpha=alpha).evaluate(outcome, scores)
        assert metrics["significant_pairs"] == sum(p < alpha for p in expected)


def test_p_values_agree_with_statsmodels_on_random_pairs():
    rng = np.random.default_rng(7)
    for _ in range(20):
        trials = rng.integers(5, 500, 2)
        successes = rng.binomial(trials, rng.uniform(0.05, 0.6, 2))
        if successes[0] * trials[1] == successes[1] * trials[0]:
            continue
        _, expected = proportions_ztest(successes, trials)
        ours = two_proportion_p_value(successes[0], trials[0], successes[1], trials[1])
        assert ours == pytest.approx(expected, rel=1e-9)


def test_pairwise_accuracy_is_nan_without_pairs():
    # Equal rates within each group, and a group of one row.
    outcome = within.Outcome(np.array([1.0, 2.0, 5.0]), np.array([10.0, 20.0, 9.0]),
                             np.array(["a", "a", "b"]))
    metrics = ranking().evaluate(outcome, np.array([0.1, 0.2, 0.3]))
    assert metrics["pairs"] == 0
    assert math.isnan(metrics["pairwise_accuracy"])
    assert math.isnan(metrics["pairwise_accuracy_significant"])


def test_pairwise_ranking_needs_groups():
    assert PairwiseRanking.needs_groups
    outcome = within.Outcome(np.array([1.0, 2.0]), np.array([10.0, 10.0]))
    with pytest.raises(within.DataError, match="groups"):
        ranking().evaluate(outcome, np.array([0.1, 0.2]))


def test_pairwise_ranking_is_fast_on_many_small_groups():
    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 15, 4000)
    groups = np.repeat(np.arange(len(sizes)).astype(str), sizes)
    rows = len(groups)
    trials = rng.integers(50, 1000, rows).astype(float)
    true_rate = rng.uniform(0.01, 0.2, rows)
    successes = rng.binomial(trials.astype(int), true_rate).astype(float)
    scores = np.clip(true_rate + rng.normal(0, 0.02, rows), 0, 1)
    order = rng.permutation(rows)  # groups need not be contiguous
    outcome = within.Outcome(successes[order], trials[order], groups[order])

    started = time.perf_counter()
    metrics = ranking().evaluate(outcome, scores[order])
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert metrics["pairs"] == pytest.approx((sizes * (sizes - 1) / 2).sum(), rel=0.01)
    # Scores follow the true rates, so significant pairs are mostly ordered right.
    assert metrics["pairwise_accuracy_significant"] > metrics["pairwise_accuracy"] > 0.6


@pytest.mark.parametrize("block_pairs", [1, 3, 10, 1 << 21])
def test_group_pairs_cover_every_pair_once(block_pairs):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, 40)
    codes[:12] = 5  # one larger group to exercise the slicing of big groups
    found = [pair for a, b in iter_group_pairs(codes, block_pairs=block_pairs)
             for pair in zip(a.tolist(), b.tolist())]
    expected = [(i, j) for i in range(len(codes)) for j in range(i + 1, len(codes))
                if codes[i] == codes[j]]
    assert sorted(found) == expected


def test_registry_finds_the_built_in_plugins():
    import within_baselines
    import within_metrics
    from within.registry import Registry

    registry = Registry([within_metrics, within_baselines], autoload=False)
    assert registry.names("evaluator") == ["click_metrics", "pairwise_ranking"]
    assert registry.names("model") == ["prior", "tfidf_logreg"]
