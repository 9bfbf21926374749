"""Scoring rows with a saved model."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from within.artifacts import LoadedArtifact, load_artifact
from within.data import read_table, write_table
from within.errors import DataError

logger = logging.getLogger(__name__)

SCORE_COLUMN = "score"


def score_frame(artifact: LoadedArtifact, frame: pd.DataFrame, *,
                source: str = "input") -> np.ndarray:
    """Check ``frame`` against the model's schema and return one score per row.

    Columns are matched by name, so their order does not matter; extra columns
    are ignored. Outcome columns are not needed.
    """
    prepared = artifact.schema.prepare(frame, need_outcome=False, source=source)
    scores = artifact.model.predict(prepared)
    if len(scores) != len(frame) or not np.all(np.isfinite(scores)):
        raise DataError(f"model {artifact.manifest['plugin']['name']} returned invalid "
                        "scores")
    return scores


def score_file(model: str | Path, input_path: str | Path, output_path: str | Path) -> int:
    artifact = load_artifact(model)
    frame = read_table(input_path, field="INPUT")
    if SCORE_COLUMN in frame.columns:
        raise DataError(f'INPUT: "{input_path}" already has a column "{SCORE_COLUMN}"; '
                        "rename or drop it so it is not overwritten")
    scores = score_frame(artifact, frame, source=f'input file "{input_path}"')
    out = frame.copy()
    out[SCORE_COLUMN] = scores
    write_table(out, output_path)
    logger.info("Scored %d rows with model version %s", len(out),
                artifact.manifest["version"])
    return len(out)
