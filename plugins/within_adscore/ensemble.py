"""Blending the members' logits and calibrating the blend, both on validation rows."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, softmax

from within.calibration import fit_platt
from within_adscore.objective import Targets, binomial_loss


def fit_weights(margins: np.ndarray, targets: Targets) -> tuple[np.ndarray, float]:
    """Convex weights over the members' logits, plus an intercept.

    Minimises the per-trial binomial log loss of ``sigmoid(b + sum_k w_k z_k)``
    with ``w`` on the simplex (parametrised by a softmax, so the optimiser is
    unconstrained). ``margins`` has one column per member.
    """
    members = margins.shape[1]

    def loss(theta):
        return binomial_loss(theta[-1] + margins @ softmax(theta[:-1]), targets)

    best = None
    # A few starts, one leaning to each member, guard against a flat start.
    for lean in range(members + 1):
        start = np.zeros(members + 1)
        if lean < members:
            start[lean] = 2.0
        result = minimize(loss, start, method="L-BFGS-B")
        if best is None or result.fun < best.fun:
            best = result
    return softmax(best.x[:-1]), float(best.x[-1])


class Calibrator:
    """Maps a blended logit to a probability: Platt scaling, isotonic, or none.

    Its state is plain numbers, saved as JSON.
    """

    def __init__(self, method: str, state: dict):
        self.method = method
        self.state = state

    @classmethod
    def fit(cls, method: str, logit: np.ndarray, targets: Targets) -> "Calibrator":
        if method == "none":
            return cls(method, {})
        if method == "platt":
            scale, shift = fit_platt(logit, targets.successes, targets.trials)
            return cls(method, {"scale": scale, "shift": shift})
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            rate = targets.successes / targets.trials
            iso = IsotonicRegression(y_min=1e-6, y_max=1 - 1e-6, out_of_bounds="clip")
            iso.fit(logit, rate, sample_weight=targets.trials)
            return cls(method, {"x": iso.X_thresholds_.tolist(),
                                "y": iso.y_thresholds_.tolist()})
        raise ValueError(f"unknown calibration {method!r}")

    def probability(self, logit: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            return expit(self.state["scale"] * logit + self.state["shift"])
        if self.method == "isotonic":
            return np.interp(logit, self.state["x"], self.state["y"])
        return expit(logit)

    def to_json(self) -> dict:
        return {"method": self.method, **self.state}

    @classmethod
    def from_json(cls, data: dict) -> "Calibrator":
        data = dict(data)
        return cls(data.pop("method"), data)
