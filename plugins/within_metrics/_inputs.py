"""Checks shared by the evaluators, so every one refuses bad input the same way."""

from __future__ import annotations

import numpy as np

from within.errors import DataError
from within.schema import Outcome


def check_inputs(outcome: Outcome, scores, evaluator: str):
    """Return successes, trials and scores as float arrays, or raise DataError.

    Scores must be finite probabilities, one per row; successes and trials must be
    finite with ``0 <= successes <= trials`` and some trials in all.
    """
    where = f'evaluator "{evaluator}"'
    successes = np.asarray(outcome.successes, dtype=float)
    trials = np.asarray(outcome.trials, dtype=float)
    try:
        scores = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: scores are not numbers ({exc})") from None
    if scores.ndim != 1:
        raise DataError(f"{where}: scores must be one-dimensional, got shape "
                        f"{scores.shape}")
    if not len(successes) == len(trials) == len(scores):
        raise DataError(
            f"{where}: lengths differ: {len(scores)} scores, {len(successes)} "
            f"successes, {len(trials)} trials; expected one score per row"
        )
    if outcome.groups is not None and len(outcome.groups) != len(scores):
        raise DataError(f"{where}: lengths differ: {len(scores)} scores but "
                        f"{len(outcome.groups)} groups")
    if len(scores) == 0:
        raise DataError(f"{where}: there are no rows to evaluate")

    bad = ~np.isfinite(scores)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where}: {int(bad.sum())} scores are not finite (first at row {first}: "
            f"{scores[first]!r}); scores must be probabilities in [0, 1]"
        )
    outside = (scores < 0) | (scores > 1)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{where}: {int(outside.sum())} scores lie outside [0, 1] (first at row "
            f"{first}: {scores[first]!r}); scores must be probabilities"
        )

    if not (np.isfinite(successes).all() and np.isfinite(trials).all()):
        raise DataError(f"{where}: successes and trials must be finite")
    if (successes < 0).any() or (successes > trials).any():
        raise DataError(f"{where}: successes must lie between 0 and trials; "
                        f"{int(((successes < 0) | (successes > trials)).sum())} "
                        "rows do not")
    if trials.sum() <= 0:
        raise DataError(f"{where}: the rows hold no trials in all")
    return successes, trials, scores
