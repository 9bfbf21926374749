"""Hook specifications: the contract between the core and every plugin.

All hooks start with ``within_``. A plugin is any module or object with functions
marked ``@within.hookimpl`` whose names match these specs; it reaches the core
through the ``within`` entry-point group (see ``docs/plugins.md``).

Registration hooks return a list of classes. Every call's lists are merged, and
two classes with the same ``name`` in one kind are an error naming both plugins.
A hook implementation may accept fewer arguments than its spec names.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("within")


# -- registration -------------------------------------------------------------


@hookspec
def within_register_models():
    """Return model classes (subclasses of :class:`within.Model`).

    Called once when the registry is built. Stability: beta, since 0.1.
    """


@hookspec
def within_register_evaluators():
    """Return evaluator classes (subclasses of :class:`within.Evaluator`).

    Stability: beta, since 0.1.
    """


@hookspec
def within_register_strategies():
    """Return deployment-strategy classes (subclasses of :class:`within.Strategy`).

    A strategy decides which model variant answers a request and which shadow it.
    Stability: experimental, since 0.1; no built-in strategy ships yet.
    """


@hookspec
def within_register_datasets():
    """Return dataset classes (subclasses of :class:`within.Dataset`).

    A job file names a dataset with ``data.dataset``. Stability: beta, since 0.1.
    """


# -- lifecycle ----------------------------------------------------------------


@hookspec
def within_artifact_saved(path, manifest):
    """Called after a model artifact was written and renamed into place.

    :param path: the artifact folder (a :class:`pathlib.Path`).
    :param manifest: the manifest as a dict, exactly as written.

    Return values are ignored. Stability: experimental, since 0.1.
    """


@hookspec
def within_job_finished(job, run_dir, metrics):
    """Called after a job has written its run folder.

    :param job: the validated :class:`within.config.JobSpec`.
    :param run_dir: the run folder (a :class:`pathlib.Path`).
    :param metrics: the dict written to ``metrics.json``.

    Return values are ignored. Stability: experimental, since 0.1.
    """
