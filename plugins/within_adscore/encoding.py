"""Turning a prepared frame into the inputs of both ensemble members.

The encoder is fitted on training rows only and saved as JSON, so scoring sees
exactly the categories, vocabulary and scaling that training saw.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from within import FeatureSchema
from within_adscore.text import TEXT_STATISTICS, Vocabulary, text_statistics

logger = logging.getLogger(__name__)

OTHER = "<other>"


@dataclass
class NetworkInputs:
    tokens: np.ndarray  # (rows, text columns, max_tokens) int64
    categories: np.ndarray  # (rows, categorical columns) int64, 0 = other/unseen
    dense: np.ndarray  # (rows, dense features) float32, standardised

    def __len__(self) -> int:
        return len(self.dense)

    def take(self, index: np.ndarray) -> "NetworkInputs":
        return NetworkInputs(self.tokens[index], self.categories[index], self.dense[index])


class Encoder:
    """Category levels, vocabulary and numeric scaling learnt from training rows.

    Handling of awkward values, applied the same at training and scoring:

    - numeric NaN: XGBoost treats it as missing; the network sees the training
      median plus a 0/1 missing indicator for that column;
    - categories seen fewer than ``min_category_count`` times in training, or not
      at all, share one level, ``<other>``; unseen ones are counted in the log;
    - empty text gets its own token and zero statistics.
    """

    def __init__(self, schema: FeatureSchema, state: dict):
        self.schema = schema
        self.state = state
        self.vocabulary = Vocabulary.from_json(state["vocabulary"])
        self._levels = {c: {v: i for i, v in enumerate(levels)}
                        for c, levels in state["categories"].items()}

    @classmethod
    def fit(cls, schema: FeatureSchema, frame: pd.DataFrame, *, min_category_count: int,
            max_categories: int, vocab_min_count: int, vocab_max_size: int,
            max_tokens: int) -> "Encoder":
        categories = {}
        for column in schema.categorical:
            counts = Counter(frame[column])
            kept = sorted((v for v, n in counts.items() if n >= min_category_count),
                          key=lambda v: (-counts[v], v))[:max_categories]
            categories[column] = [OTHER, *kept]
        texts = [t for column in schema.text for t in frame[column]]
        vocabulary = Vocabulary.build(texts, min_count=vocab_min_count,
                                      max_size=vocab_max_size)
        state = {"categories": categories, "vocabulary": vocabulary.to_json(),
                 "max_tokens": max_tokens, "dense": {}}
        encoder = cls(schema, state)
        raw = encoder._dense_raw(frame)
        medians = np.nanmedian(raw, axis=0) if raw.shape[1] else np.zeros(0)
        medians = np.where(np.isnan(medians), 0.0, medians)
        filled = np.where(np.isnan(raw), medians, raw)
        scale = filled.std(axis=0) if raw.shape[1] else np.zeros(0)
        state["dense"] = {"names": encoder._dense_names(), "median": medians.tolist(),
                          "mean": filled.mean(axis=0).tolist() if raw.shape[1] else [],
                          "scale": np.where(scale > 0, scale, 1.0).tolist()}
        return encoder

    # -- names ---------------------------------------------------------------

    def _statistic_names(self) -> list[str]:
        return [f"{column}__{stat}" for column in self.schema.text
                for stat in TEXT_STATISTICS]

    def _dense_names(self) -> list[str]:
        return list(self.schema.numeric) + self._statistic_names()

    @property
    def tree_feature_names(self) -> list[str]:
        return [*self.schema.numeric, *self.schema.categorical, *self._statistic_names()]

    # -- encodings -----------------------------------------------------------

    def _statistics(self, frame: pd.DataFrame) -> list[np.ndarray]:
        return [text_statistics(frame[column]) for column in self.schema.text]

    def _dense_raw(self, frame: pd.DataFrame,
                   statistics: Optional[list[np.ndarray]] = None) -> np.ndarray:
        if statistics is None:
            statistics = self._statistics(frame)
        parts = [frame[list(self.schema.numeric)].to_numpy(dtype=np.float64), *statistics]
        return np.concatenate(parts, axis=1)

    def _category_codes(self, frame: pd.DataFrame) -> np.ndarray:
        codes = np.zeros((len(frame), len(self.schema.categorical)), dtype=np.int64)
        for j, column in enumerate(self.schema.categorical):
            levels = self._levels[column]
            values = frame[column].to_numpy()
            codes[:, j] = [levels.get(v, 0) for v in values]
            unseen = sum(v not in levels for v in set(values))
            if unseen:
                logger.debug("Column %s: %d distinct values scored as %s", column,
                             unseen, OTHER)
        return codes

    def encode(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, NetworkInputs]:
        """Inputs of both members, computing text statistics and codes once."""
        statistics = self._statistics(frame)
        codes = self._category_codes(frame)
        return (self.tree_frame(frame, statistics, codes),
                self.network_inputs(frame, statistics, codes))

    def tree_frame(self, frame: pd.DataFrame,
                   statistics: Optional[list[np.ndarray]] = None,
                   codes: Optional[np.ndarray] = None) -> pd.DataFrame:
        """Features for XGBoost: numeric (NaN kept), categorical, text statistics."""
        if statistics is None:
            statistics = self._statistics(frame)
        if codes is None:
            codes = self._category_codes(frame)
        columns = {}
        for column in self.schema.numeric:
            columns[column] = frame[column].to_numpy(dtype=np.float64)
        for j, column in enumerate(self.schema.categorical):
            levels = self.state["categories"][column]
            columns[column] = pd.Categorical.from_codes(codes[:, j], categories=levels)
        for column, stats in zip(self.schema.text, statistics):
            for k, stat in enumerate(TEXT_STATISTICS):
                columns[f"{column}__{stat}"] = stats[:, k]
        return pd.DataFrame(columns, index=frame.index)[self.tree_feature_names]

    def network_inputs(self, frame: pd.DataFrame,
                       statistics: Optional[list[np.ndarray]] = None,
                       codes: Optional[np.ndarray] = None) -> NetworkInputs:
        dense_state = self.state["dense"]
        raw = self._dense_raw(frame, statistics)
        missing = np.isnan(raw[:, : len(self.schema.numeric)])
        filled = np.where(np.isnan(raw), np.asarray(dense_state["median"]), raw)
        scaled = (filled - np.asarray(dense_state["mean"])) / np.asarray(dense_state["scale"])
        dense = np.concatenate([scaled, missing.astype(np.float64)], axis=1)
        max_tokens = self.state["max_tokens"]
        if self.schema.text:
            tokens = np.stack([self.vocabulary.encode(frame[c], max_tokens)
                               for c in self.schema.text], axis=1)
        else:
            tokens = np.zeros((len(frame), 0, max_tokens), dtype=np.int64)
        if codes is None:
            codes = self._category_codes(frame)
        return NetworkInputs(tokens, codes, dense.astype(np.float32))

    @property
    def category_cardinalities(self) -> list[int]:
        return [len(self.state["categories"][c]) for c in self.schema.categorical]

    @property
    def dense_width(self) -> int:
        return len(self._dense_names()) + len(self.schema.numeric)

    def to_json(self) -> dict:
        return self.state

    @classmethod
    def from_json(cls, schema: FeatureSchema, state: dict) -> "Encoder":
        return cls(schema, state)
