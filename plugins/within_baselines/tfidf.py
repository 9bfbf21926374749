"""TF-IDF features of the ad text and a logistic regression on them.

Two ways to learn from clicks out of impressions:

- ``pointwise`` fits the click probability directly: each row becomes a positive
  example weighted by its successes and a negative one weighted by its failures.
- ``pairwise`` learns to order rows within a group, which cancels whatever the
  rows of a group share (position on a page, audience). The resulting linear
  score has no scale, so it is mapped to a probability by Platt scaling fitted
  on the validation frame.

The fitted model is saved as JSON: the vocabulary and IDF weights, and the
coefficients. Loading rebuilds a vectorizer whose transform is the same.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pandas as pd
import pydantic
import scipy.sparse as sp
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from within._validation import StrictModel
from within.errors import ArtifactError, ConfigError, DataError
from within.schema import FeatureSchema
from within.types import FitContext, Model
from within.calibration import fit_platt
from within.groups import all_group_pairs, group_codes

logger = logging.getLogger(__name__)

TFIDF_FILE = "tfidf.json"
LOGREG_FILE = "logreg.json"


class TfidfLogisticRegressionParams(StrictModel):
    mode: Literal["pointwise", "pairwise"] = "pointwise"
    text: Optional[list[str]] = pydantic.Field(
        None, description="text columns to use, joined by a space; default all")
    C: float = pydantic.Field(1.0, gt=0, description="inverse L2 penalty")
    min_df: int = pydantic.Field(3, ge=1, description="rows a term must appear in")
    ngram_max: int = pydantic.Field(2, ge=1, description="longest word n-gram")
    max_features: int = pydantic.Field(50000, ge=1, description="most terms kept")


class TfidfLogisticRegression(Model):
    """Logistic regression on TF-IDF terms of the schema's text columns."""

    name = "tfidf_logreg"
    Params = TfidfLogisticRegressionParams

    def __init__(self, params: TfidfLogisticRegressionParams, schema: FeatureSchema):
        super().__init__(params, schema)
        self.columns = self._check_config()
        self.vectorizer: Optional[TfidfVectorizer] = None
        self.coef: Optional[np.ndarray] = None
        self.intercept = 0.0
        # Platt scaling (a, b) of the pairwise score: p = sigmoid(a * s + b).
        self.platt: Optional[tuple[float, float]] = None

    def _check_config(self) -> list[str]:
        params, schema = self.params, self.schema
        if params.text is None:
            if not schema.text:
                raise ConfigError("params.text",
                                  "the schema declares no text columns; list some "
                                  "under schema.text")
            columns = list(schema.text)
        else:
            if not params.text:
                raise ConfigError("params.text",
                                  "lists no columns; leave it out to use every "
                                  "column of schema.text")
            for i, column in enumerate(params.text):
                if column not in schema.text:
                    raise ConfigError(
                        f"params.text[{i}]",
                        f'"{column}" is not a text column of the schema; '
                        f"schema.text declares: {', '.join(schema.text) or 'none'}")
            columns = list(params.text)
        if params.mode == "pairwise" and not schema.group:
            raise ConfigError("params.mode",
                              "pairwise mode compares rows within a group; declare "
                              'schema.group or use mode "pointwise"')
        return columns

    # -- fitting -----------------------------------------------------------------

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame,
            context: FitContext) -> "TfidfLogisticRegression":
        self.vectorizer = _new_vectorizer(self.params.ngram_max, self.params.min_df,
                                          self.params.max_features)
        try:
            features = self.vectorizer.fit_transform(self._documents(train))
        except ValueError as exc:
            # sklearn refuses an empty vocabulary, e.g. when min_df prunes all.
            raise DataError(f"model.params.min_df: no terms are left from the "
                            f"training text ({exc}); lower min_df or check the "
                            "text columns") from None
        context.progress(f"TF-IDF: {features.shape[1]} terms, "
                         f"{features.shape[0]} rows")
        outcome = self.schema.outcome(train)
        if self.params.mode == "pointwise":
            self._fit_pointwise(features, outcome.successes, outcome.trials, context)
        else:
            self._fit_pairwise(features, outcome, context)
            if validation is None or len(validation) == 0:
                logger.warning("No validation rows: Platt scaling is fitted on the "
                               "training rows, so probabilities may be overconfident")
                validation = train
            self._fit_platt(validation)
        return self

    def _fit_pointwise(self, features, successes, trials, context) -> None:
        rows = features.shape[0]
        weights = np.concatenate([successes, trials - successes])
        labels = np.repeat([1, 0], rows)
        keep = weights > 0
        if len(np.unique(labels[keep])) < 2:
            raise DataError("the training rows hold only successes or only "
                            "failures; logistic regression needs both")
        x = features[np.tile(np.arange(rows), 2)[keep]]
        # Mean-one weights keep C comparable across data sets of any trial count.
        weights = weights[keep] / weights[keep].mean()
        regression = LogisticRegression(C=self.params.C, max_iter=1000,
                                        random_state=context.seed)
        regression.fit(x, labels[keep], sample_weight=weights)
        self.coef = regression.coef_.ravel().astype(np.float64)
        self.intercept = float(regression.intercept_[0])

    def _fit_pairwise(self, features, outcome, context) -> None:
        usable = np.flatnonzero(outcome.trials > 0)
        codes = group_codes(np.asarray(outcome.groups)[usable], where="schema.group")
        a, b = all_group_pairs(codes)
        a, b = usable[a], usable[b]
        rate = np.zeros(len(outcome.trials))
        rate[usable] = outcome.successes[usable] / outcome.trials[usable]
        differ = rate[a] != rate[b]
        a, b = a[differ], b[differ]
        if len(a) == 0:
            raise DataError("pairwise mode found no group with two rows whose "
                            'rates differ; use mode "pointwise"')
        context.progress(f"pairwise: {len(a)} pairs")
        difference = features[a] - features[b]
        higher = (rate[a] > rate[b]).astype(np.int64)
        # Both orientations: the classes balance and the fit stays symmetric, so
        # no intercept is needed (the score of a pair must flip with its order).
        x = sp.vstack([difference, -difference]).tocsr()
        y = np.concatenate([higher, 1 - higher])
        regression = LogisticRegression(C=self.params.C, fit_intercept=False,
                                        max_iter=1000, random_state=context.seed)
        regression.fit(x, y)
        self.coef = regression.coef_.ravel().astype(np.float64)
        self.intercept = 0.0

    def _fit_platt(self, frame: pd.DataFrame) -> None:
        outcome = self.schema.outcome(frame)
        self.platt = fit_platt(self._linear(frame), outcome.successes,
                               outcome.trials)
        logger.info("Platt scaling a=%.4g b=%.4g", *self.platt)

    # -- scoring -----------------------------------------------------------------

    def _documents(self, frame: pd.DataFrame) -> list[str]:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f'text column "{missing[0]}" is not in the frame')
        text = frame[self.columns[0]].fillna("").astype(str)
        for column in self.columns[1:]:
            text = text + " " + frame[column].fillna("").astype(str)
        return text.tolist()

    def _linear(self, frame: pd.DataFrame) -> np.ndarray:
        if self.vectorizer is None or self.coef is None:
            raise RuntimeError(f"{type(self).__name__} used before fit or load")
        features = self.vectorizer.transform(self._documents(frame))
        linear = np.asarray(features @ self.coef, dtype=np.float64).ravel()
        return linear + self.intercept

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        score = self._linear(frame)
        if self.platt is not None:
            a, b = self.platt
            score = a * score + b
        return expit(score).astype(np.float64)

    # -- persistence ---------------------------------------------------------------

    def save(self, folder: Path) -> list[str]:
        folder = Path(folder)
        vocabulary = self.vectorizer.vocabulary_
        terms = [""] * len(vocabulary)
        for term, index in vocabulary.items():
            terms[index] = term
        # json writes floats in their shortest round-tripping form, so the
        # weights read back are bit-for-bit the same.
        tfidf = {"ngram_max": self.params.ngram_max, "terms": terms,
                 "idf": self.vectorizer.idf_.tolist()}
        logreg = {"mode": self.params.mode, "columns": self.columns,
                  "coef": self.coef.tolist(), "intercept": self.intercept,
                  "platt": list(self.platt) if self.platt is not None else None}
        (folder / TFIDF_FILE).write_text(json.dumps(tfidf, allow_nan=False))
        (folder / LOGREG_FILE).write_text(json.dumps(logreg, allow_nan=False))
        return [TFIDF_FILE, LOGREG_FILE]

    @classmethod
    def load(cls, folder: Path, params: TfidfLogisticRegressionParams,
             schema: FeatureSchema) -> "TfidfLogisticRegression":
        folder = Path(folder)
        tfidf = _read_json(folder / TFIDF_FILE)
        logreg = _read_json(folder / LOGREG_FILE)
        try:
            terms, idf = tfidf["terms"], np.asarray(tfidf["idf"], dtype=np.float64)
            coef = np.asarray(logreg["coef"], dtype=np.float64)
            intercept, platt = float(logreg["intercept"]), logreg["platt"]
            ngram_max, columns = int(tfidf["ngram_max"]), list(logreg["columns"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{folder}: malformed model files ({exc!r})") from None
        if not len(terms) == len(idf) == len(coef):
            raise ArtifactError(f"{folder}: {len(terms)} terms, {len(idf)} IDF "
                                f"weights and {len(coef)} coefficients; expected "
                                "as many of each")
        model = cls(params, schema)
        model.columns = columns
        # A vectorizer with a fixed vocabulary needs no fit; setting idf_ creates
        # its inner TfidfTransformer, so transform matches the fitted one.
        model.vectorizer = _new_vectorizer(
            ngram_max, vocabulary={term: i for i, term in enumerate(terms)})
        model.vectorizer.idf_ = idf
        model.coef, model.intercept = coef, intercept
        model.platt = (float(platt[0]), float(platt[1])) if platt else None
        return model


def _new_vectorizer(ngram_max: int, min_df: int = 1, max_features=None,
                    vocabulary=None) -> TfidfVectorizer:
    # Every setting that shapes transform lives here, so fit and load agree.
    return TfidfVectorizer(sublinear_tf=True, ngram_range=(1, ngram_max),
                           min_df=min_df, max_features=max_features,
                           vocabulary=vocabulary, dtype=np.float64)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from None
