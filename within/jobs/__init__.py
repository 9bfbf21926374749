"""Job kinds, by the ``kind`` key of a job file."""

from __future__ import annotations

from within.jobs.train import run_train
from within.jobs.tune import run_tune

JOBS = {"train": run_train, "tune": run_tune}
