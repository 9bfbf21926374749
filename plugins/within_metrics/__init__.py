"""Built-in evaluators: click metrics over all rows and ranking within groups."""

from __future__ import annotations

import within
from within_metrics.click import ClickMetrics, ClickMetricsParams
from within_metrics.ranking import PairwiseRanking, PairwiseRankingParams

__all__ = [
    "ClickMetrics",
    "ClickMetricsParams",
    "PairwiseRanking",
    "PairwiseRankingParams",
]


@within.hookimpl
def within_register_evaluators():
    return [ClickMetrics, PairwiseRanking]
