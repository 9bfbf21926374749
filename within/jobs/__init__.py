"""Job kinds, by the ``kind`` key of a job file."""

from __future__ import annotations

from within.jobs.train import run_train

JOBS = {"train": run_train}
