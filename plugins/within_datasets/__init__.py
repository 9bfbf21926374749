"""Small real datasets bundled with within, loadable by name from YAML.

Each dataset's folder under ``data/`` carries a ``SOURCE.md`` with its origin and
licence; only openly licensed data (CC BY, MIT) is bundled.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

import within

DATA = Path(__file__).parent / "data"


class Upworthy(within.Dataset):
    """Headline variants of 3,899 Upworthy A/B tests with impressions and clicks."""

    name = "upworthy"
    description = ("18,081 headline variants from 3,899 real Upworthy A/B tests "
                   "(2013-2015), with impressions and clicks")
    licence = "CC BY 4.0"
    citation = ("Matias, Munger, Aubin Le Quere and Ebersole (2021), The Upworthy "
                "Research Archive, Scientific Data 8:195")
    path = DATA / "upworthy" / "upworthy_headlines.parquet"

    def load(self) -> pd.DataFrame:
        return pd.read_parquet(self.path)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@within.hookimpl
def within_register_datasets():
    return [Upworthy]
