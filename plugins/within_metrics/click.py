"""Metrics of click probabilities against successes out of trials.

Every metric counts trials, not rows: a row with 3 clicks out of 100 impressions
weighs as 3 positive and 97 negative examples.
"""

from __future__ import annotations

import logging

import numpy as np
import pydantic

from within._validation import StrictModel
from within.schema import Outcome
from within.types import Evaluator
from within_metrics._inputs import check_inputs

logger = logging.getLogger(__name__)

#: Probabilities are clipped this far from 0 and 1 so log loss stays finite.
EPSILON = 1e-15


class ClickMetricsParams(StrictModel):
    bins: int = pydantic.Field(10, ge=2, description="bins of the calibration error")


class ClickMetrics(Evaluator):
    """Log loss, ROC AUC, Brier score and expected calibration error.

    Returns ``log_loss``, ``auc``, ``brier`` and ``calibration_error``. AUC is NaN
    when the rows hold no successes or no failures.
    """

    name = "click_metrics"
    metric_names = ("log_loss", "auc", "brier", "calibration_error")
    Params = ClickMetricsParams

    def evaluate(self, outcome: Outcome, scores: np.ndarray) -> dict[str, float]:
        successes, trials, scores = check_inputs(outcome, scores, self.name)
        return {
            "log_loss": binomial_log_loss(successes, trials, scores),
            "auc": weighted_auc(scores, successes, trials - successes),
            "brier": binomial_brier(successes, trials, scores),
            "calibration_error": calibration_error(successes, trials, scores,
                                                   self.params.bins),
        }


def binomial_log_loss(successes, trials, scores) -> float:
    """Mean negative log likelihood per trial."""
    p = np.clip(scores, EPSILON, 1 - EPSILON)
    total = successes * np.log(p) + (trials - successes) * np.log1p(-p)
    return float(-total.sum() / trials.sum())


def binomial_brier(successes, trials, scores) -> float:
    """Mean squared error per trial."""
    total = successes * (1 - scores) ** 2 + (trials - successes) * scores**2
    return float(total.sum() / trials.sum())


def weighted_auc(scores, positives, negatives) -> float:
    """ROC AUC with each row counting ``positives`` and ``negatives`` times.

    The share of (positive, negative) pairs in which the positive scores higher,
    a tie counting one half. Sorting the distinct scores once gives, for each
    score, the negative weight strictly below it, so the cost is O(n log n).
    """
    total_positive, total_negative = positives.sum(), negatives.sum()
    if total_positive <= 0 or total_negative <= 0:
        logger.warning("AUC is undefined: the rows hold only one outcome")
        return float("nan")
    levels, level_of = np.unique(scores, return_inverse=True)
    positive = np.bincount(level_of, weights=positives, minlength=len(levels))
    negative = np.bincount(level_of, weights=negatives, minlength=len(levels))
    negative_below = np.cumsum(negative) - negative
    wins = positive * (negative_below + 0.5 * negative)
    return float(wins.sum() / (total_positive * total_negative))


def calibration_error(successes, trials, scores, bins: int) -> float:
    """Expected calibration error over bins of about equal trials.

    Rows are sorted by score and each goes to the bin holding the middle of its
    span of cumulative trials. Rows with the same score are placed as one, so the
    result does not depend on the order of tied rows. A bin weighs by its trials:
    ``(trials / total) * |mean score - observed rate|``, which reduces to
    ``|sum of predicted successes - successes| / total``.
    """
    levels, level_of = np.unique(scores, return_inverse=True)
    level_trials = np.bincount(level_of, weights=trials, minlength=len(levels))
    level_successes = np.bincount(level_of, weights=successes, minlength=len(levels))
    level_predicted = np.bincount(level_of, weights=scores * trials,
                                  minlength=len(levels))
    total = level_trials.sum()
    middle = np.cumsum(level_trials) - level_trials / 2
    bin_of = np.minimum((middle * bins / total).astype(np.int64), bins - 1)
    predicted = np.bincount(bin_of, weights=level_predicted, minlength=bins)
    observed = np.bincount(bin_of, weights=level_successes, minlength=bins)
    return float(np.abs(predicted - observed).sum() / total)
