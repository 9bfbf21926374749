"""Built-in baseline models: the pooled rate and TF-IDF logistic regression."""

from __future__ import annotations

import within
from within_baselines.prior import PriorRate
from within_baselines.tfidf import (
    TfidfLogisticRegression,
    TfidfLogisticRegressionParams,
)

__all__ = ["PriorRate", "TfidfLogisticRegression", "TfidfLogisticRegressionParams"]


@within.hookimpl
def within_register_models():
    return [PriorRate, TfidfLogisticRegression]
