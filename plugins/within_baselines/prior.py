"""The simplest baseline: every row gets the training set's pooled rate."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from within._validation import StrictModel
from within.errors import ArtifactError, DataError
from within.schema import FeatureSchema
from within.types import FitContext, Model

logger = logging.getLogger(__name__)

FILE = "prior.json"


class PriorRate(Model):
    """Predicts sum of successes over sum of trials in the training frame.

    A model that beats it has learnt something from the features.
    """

    name = "prior"

    def __init__(self, params: StrictModel, schema: FeatureSchema):
        super().__init__(params, schema)
        self.rate: float | None = None

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame,
            context: FitContext) -> "PriorRate":
        outcome = self.schema.outcome(train)
        trials = float(outcome.trials.sum())
        if trials <= 0:
            raise DataError("the training rows hold no trials; cannot fit a rate")
        self.rate = float(outcome.successes.sum()) / trials
        logger.info("Prior rate %.6g from %.6g trials", self.rate, trials)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.rate is None:
            raise RuntimeError("PriorRate.predict called before fit or load")
        return np.full(len(frame), self.rate, dtype=np.float64)

    def save(self, folder: Path) -> list[str]:
        (Path(folder) / FILE).write_text(json.dumps({"rate": self.rate}))
        return [FILE]

    @classmethod
    def load(cls, folder: Path, params: StrictModel,
             schema: FeatureSchema) -> "PriorRate":
        path = Path(folder) / FILE
        try:
            rate = float(json.loads(path.read_text())["rate"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"cannot read {path}: {exc}") from None
        if not 0 <= rate <= 1:
            raise ArtifactError(f"{path} holds rate {rate}, not a probability")
        model = cls(params, schema)
        model.rate = rate
        return model
