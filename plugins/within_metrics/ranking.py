"""How well scores order rows within a group (the ads shown on one page, say)."""

from __future__ import annotations

import logging

import numpy as np
import pydantic
from scipy.special import erfc

from within._validation import StrictModel
from within.errors import DataError
from within.schema import Outcome
from within.types import Evaluator
from within_metrics._inputs import check_inputs
from within.groups import group_codes, iter_group_pairs

logger = logging.getLogger(__name__)


class PairwiseRankingParams(StrictModel):
    alpha: float = pydantic.Field(
        0.05, gt=0, lt=1,
        description="a pair counts as significant when its z-test p-value is below",
    )


class PairwiseRanking(Evaluator):
    """Share of pairs in a group that the scores put in the observed order.

    Pairs are rows of the same group whose observed rates differ; rows without
    trials take no part. A pair scores 1 when the row with the higher rate has the
    higher score, 0.5 when the scores tie and 0 otherwise.

    Returns ``pairwise_accuracy`` over all such pairs, ``pairwise_accuracy_
    significant`` over those whose rates differ by a two-sided, pooled two-
    proportion z-test at level ``alpha``, and the counts ``pairs`` and
    ``significant_pairs``. An accuracy is NaN when it has no pairs.
    """

    name = "pairwise_ranking"
    metric_names = ("pairwise_accuracy", "pairwise_accuracy_significant", "pairs",
                    "significant_pairs")
    Params = PairwiseRankingParams
    needs_groups = True

    def evaluate(self, outcome: Outcome, scores: np.ndarray) -> dict[str, float]:
        successes, trials, scores = check_inputs(outcome, scores, self.name)
        where = f'evaluator "{self.name}"'
        if outcome.groups is None:
            raise DataError(f"{where} needs groups; declare schema.group")
        keep = trials > 0
        codes = group_codes(np.asarray(outcome.groups)[keep], where=where)
        successes, trials, scores = successes[keep], trials[keep], scores[keep]
        rate = successes / trials

        pairs = significant = 0
        credit = significant_credit = 0.0
        for a, b in iter_group_pairs(codes):
            differ = rate[a] != rate[b]
            a, b = a[differ], b[differ]
            agree = np.sign(scores[a] - scores[b]) * np.sign(rate[a] - rate[b])
            # agree is 1 (right order), -1 (wrong) or 0 (tied scores): map to
            # credit 1, 0 and one half.
            pair_credit = (agree + 1) / 2
            p_value = two_proportion_p_value(successes[a], trials[a],
                                             successes[b], trials[b])
            is_significant = p_value < self.params.alpha
            pairs += len(a)
            credit += float(pair_credit.sum())
            significant += int(is_significant.sum())
            significant_credit += float(pair_credit[is_significant].sum())

        if pairs == 0:
            logger.warning("%s: no group has two rows with different rates", where)
        return {
            "pairwise_accuracy": credit / pairs if pairs else float("nan"),
            "pairwise_accuracy_significant": (significant_credit / significant
                                              if significant else float("nan")),
            "pairs": int(pairs),
            "significant_pairs": int(significant),
        }


def two_proportion_p_value(successes_a, trials_a, successes_b, trials_b):
    """Two-sided p-value of the pooled z-test that two rates are equal.

    Non-integer counts (weighted rows) are used as they are, which makes the test
    approximate. Pairs with equal rates and a pooled rate of 0 or 1 have no
    variance; they get a p-value of 1.
    """
    successes_a, trials_a = np.asarray(successes_a), np.asarray(trials_a)
    successes_b, trials_b = np.asarray(successes_b), np.asarray(trials_b)
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    difference = successes_a / trials_a - successes_b / trials_b
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0, np.abs(difference) / np.sqrt(variance), 0.0)
    return erfc(z / np.sqrt(2))
