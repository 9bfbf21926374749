"""The ad-score model plugin: a calibrated blend of XGBoost and a text network."""

from __future__ import annotations

import within
from within_adscore.model import AdScorePredictor

__all__ = ["AdScorePredictor"]


@within.hookimpl
def within_register_models():
    return [AdScorePredictor]
