"""Calibration helpers shared by model plugins."""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit

from within.errors import DataError

logger = logging.getLogger(__name__)


def fit_platt(scores: np.ndarray, successes: np.ndarray,
              trials: np.ndarray) -> tuple[float, float]:
    """Fit ``p = sigmoid(a * score + b)`` by trial-weighted binomial log loss."""
    scores = np.asarray(scores, dtype=np.float64)
    total = float(trials.sum())
    if total <= 0:
        raise DataError("Platt scaling needs rows with trials")
    failures = trials - successes

    def loss(theta):
        z = theta[0] * scores + theta[1]
        # -log sigmoid(z) = log(1 + e^-z), computed without overflow.
        value = (successes * np.logaddexp(0, -z)
                 + failures * np.logaddexp(0, z)).sum() / total
        slope = (trials * expit(z) - successes) / total
        return value, np.array([slope @ scores, slope.sum()])

    # Start from a constant model at the pooled rate: the optimum when the score
    # says nothing.
    pooled = np.clip(successes.sum() / total, 1e-6, 1 - 1e-6)
    result = minimize(loss, x0=np.array([0.0, logit(pooled)]), jac=True,
                      method="L-BFGS-B",
                      options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-14})
    if not result.success:
        logger.warning("Platt scaling did not converge: %s", result.message)
    return float(result.x[0]), float(result.x[1])
