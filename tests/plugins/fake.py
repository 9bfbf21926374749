"""Small plugins the core tests register by hand (not through entry points)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic

import within


class MeanRateParams(within.StrictModel):
    shrink: float = pydantic.Field(0.0, ge=0, le=1)


class MeanRate(within.Model):
    """Predicts the training rate, nudged by the first numeric feature's sign."""

    name = "mean_rate"
    Params = MeanRateParams

    def fit(self, train, validation, context):
        outcome = self.schema.outcome(train)
        self.rate = float(outcome.successes.sum() / outcome.trials.sum())
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        base = np.full(len(frame), self.rate)
        if self.schema.numeric:
            x = frame[self.schema.numeric[0]].fillna(0).to_numpy()
            base = base * (1 + 0.1 * np.tanh(x)) * (1 - self.params.shrink)
        return base

    def save(self, folder: Path) -> list[str]:
        (folder / "rate.json").write_text(json.dumps({"rate": self.rate}))
        return ["rate.json"]

    @classmethod
    def load(cls, folder, params, schema):
        model = cls(params, schema)
        model.rate = json.loads((folder / "rate.json").read_text())["rate"]
        return model


class RowCount(within.Evaluator):
    name = "row_count"

    def evaluate(self, outcome, scores):
        return {"rows": float(len(scores))}


class FakePlugin:
    """A plugin object providing one model and one evaluator."""

    @within.hookimpl
    def within_register_models(self):
        return [MeanRate]

    @within.hookimpl
    def within_register_evaluators(self):
        return [RowCount]


class DuplicatePlugin:
    @within.hookimpl
    def within_register_models(self):
        class Other(MeanRate):
            pass

        return [Other]


class NotAModelPlugin:
    @within.hookimpl
    def within_register_models(self):
        return [dict]
