"""Reading job data, fingerprinting it and splitting it by group."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from within.errors import DataError

logger = logging.getLogger(__name__)

READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}


def read_table(path: str | Path, *, field: str = "data.path") -> pd.DataFrame:
    """Read a CSV or Parquet file; a missing, empty or unreadable file is a DataError."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f'{field}: "{path}" has suffix "{path.suffix}"; expected one '
                        f"of {', '.join(sorted(READERS))}")
    if not path.is_file():
        raise DataError(f'{field}: file "{path}" does not exist')
    if path.stat().st_size == 0:
        raise DataError(f'{field}: file "{path}" is empty')
    try:
        frame = reader(path)
    except Exception as exc:  # the readers raise many types for a malformed file
        raise DataError(f'{field}: cannot read "{path}": {exc}') from None
    if len(frame) == 0:
        raise DataError(f'{field}: file "{path}" has a header but no rows')
    return frame


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise DataError(f'--output: "{path}" has suffix "{path.suffix}"; expected one '
                        f"of {', '.join(sorted(READERS))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 over the rows' values and the column names, order included."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest.update(hashed.tobytes())
    return digest.hexdigest()


@dataclass
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation),
                "test": len(self.test)}


def split_by_group(frame: pd.DataFrame, group: Optional[str], *, validation: float,
                   test: float, seed: int) -> Split:
    """Split rows into train, validation and test.

    With a group column, whole groups are assigned to one side (the variants of
    one A/B test never straddle sides); fractions are fractions of groups.
    Without one, rows are split at random.
    """
    rng = np.random.default_rng(seed)
    if group:
        keys = frame[group].to_numpy()
        unique = pd.unique(keys)
        order = rng.permutation(len(unique))
        n_test = max(1, round(test * len(unique)))
        n_validation = max(1, round(validation * len(unique)))
        if n_test + n_validation >= len(unique):
            raise DataError(
                f"schema.group: only {len(unique)} groups in column \"{group}\"; "
                "too few to hold out validation and test groups and still train")
        side = np.empty(len(unique), dtype=np.int8)
        side[order[:n_test]] = 2
        side[order[n_test:n_test + n_validation]] = 1
        side[order[n_test + n_validation:]] = 0
        codes = pd.Index(unique).get_indexer(keys)
        row_side = side[codes]
    else:
        row_side = np.zeros(len(frame), dtype=np.int8)
        order = rng.permutation(len(frame))
        n_test = max(1, round(test * len(frame)))
        n_validation = max(1, round(validation * len(frame)))
        row_side[order[:n_test]] = 2
        row_side[order[n_test:n_test + n_validation]] = 1
    parts = [frame[row_side == side].reset_index(drop=True) for side in (0, 1, 2)]
    for name, part in zip(("train", "validation", "test"), parts):
        if part.empty:
            raise DataError(f"split: the {name} side got no rows from "
                            f"{len(frame)} rows; more data is needed")
    return Split(*parts)


def sample_groups(frame: pd.DataFrame, group: Optional[str], max_groups: int,
                  seed: int) -> pd.DataFrame:
    """Keep ``max_groups`` whole groups (or rows without a group), at random."""
    rng = np.random.default_rng(seed + 1)
    if group:
        unique = pd.unique(frame[group].to_numpy())
        if max_groups >= len(unique):
            return frame
        kept = set(rng.choice(unique, size=max_groups, replace=False).tolist())
        return frame[frame[group].isin(kept)].reset_index(drop=True)
    if max_groups >= len(frame):
        return frame
    index = np.sort(rng.choice(len(frame), size=max_groups, replace=False))
    return frame.iloc[index].reset_index(drop=True)


def holdout_by_group(frame: pd.DataFrame, group: Optional[str], fraction: float,
                     seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` in two, ``fraction`` of its groups (or rows) held out."""
    rng = np.random.default_rng(seed + 2)
    keys = frame[group].to_numpy() if group else np.arange(len(frame))
    unique = pd.unique(keys)
    held = max(1, round(fraction * len(unique)))
    if held >= len(unique):
        raise DataError(f"cannot hold out {fraction:.0%} of {len(unique)} groups and "
                        "keep some to train on")
    chosen = np.zeros(len(unique), dtype=bool)
    chosen[rng.permutation(len(unique))[:held]] = True
    mask = chosen[pd.Index(unique).get_indexer(keys)]
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
