"""The training objective both members share, in NumPy (the torch twin is in
``network.py``).

Loss = binomial log loss per trial + ``within_group_weight`` x conditional log
loss per success within each group.

The second term is the likelihood of *which* variant of an A/B test received
each click, given the impressions of every variant: a softmax over the group of
``margin + log(trials)``. The test's own click level cancels out of it, so it
learns only from differences between variants of the same test, which is where
a creative's effect shows; the first term keeps the score a click probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.special import expit, log_expit


@dataclass
class Targets:
    successes: np.ndarray
    trials: np.ndarray
    groups: Optional[np.ndarray]  # int codes 0..G-1, or None

    @classmethod
    def from_outcome(cls, outcome) -> "Targets":
        codes = None
        if outcome.groups is not None:
            _, codes = np.unique(outcome.groups, return_inverse=True)
        return cls(outcome.successes.astype(np.float64), outcome.trials.astype(np.float64),
                   codes)


def binomial_loss(margin: np.ndarray, t: Targets) -> float:
    ll = t.successes * log_expit(margin) + (t.trials - t.successes) * log_expit(-margin)
    return float(-ll.sum() / t.trials.sum())


def _group_softmax(margin: np.ndarray, t: Targets) -> np.ndarray:
    logits = margin + np.log(t.trials)
    top = np.full(t.groups.max() + 1, -np.inf)
    np.maximum.at(top, t.groups, logits)
    shifted = np.exp(logits - top[t.groups])
    return shifted / np.bincount(t.groups, weights=shifted)[t.groups]


def group_loss(margin: np.ndarray, t: Targets) -> float:
    if t.groups is None or t.successes.sum() == 0:
        return 0.0
    share = _group_softmax(margin, t)
    return float(-(t.successes * np.log(np.maximum(share, 1e-300))).sum()
                 / t.successes.sum())


def total_loss(margin: np.ndarray, t: Targets, within_group_weight: float) -> float:
    loss = binomial_loss(margin, t)
    if within_group_weight and t.groups is not None:
        loss += within_group_weight * group_loss(margin, t)
    return loss


def gradient_hessian(margin: np.ndarray, t: Targets,
                     within_group_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives of :func:`total_loss`, scaled by a constant.

    The constant makes the binomial hessian average one per row at the pooled
    rate, so XGBoost's ``min_child_weight`` and ``reg_lambda`` mean about the same
    whether the click rate is 20% or 0.02% (unscaled, a row's hessian is about
    its rate, and a rare-click data set could not split at all). Newton steps
    (gradient over hessian) do not depend on it.
    """
    rows = len(margin)
    p = expit(margin)
    rate = np.clip(t.successes.sum() / t.trials.sum(), 1e-9, 1 - 1e-9)
    scale = rows / (t.trials.sum() * rate * (1 - rate))
    grad = (t.trials * p - t.successes) * scale
    hess = t.trials * p * (1 - p) * scale
    if within_group_weight and t.groups is not None and t.successes.sum() > 0:
        share = _group_softmax(margin, t)
        clicks = np.bincount(t.groups, weights=t.successes)[t.groups]
        # Same constant, times the ratio of the two terms' normalisers.
        group_scale = within_group_weight * scale * t.trials.sum() / t.successes.sum()
        grad += (clicks * share - t.successes) * group_scale
        hess += clicks * share * (1 - share) * group_scale
    return grad, np.maximum(hess, 1e-12)
