"""Connecting to Ray and running work on it.

A job starts a local Ray unless it is given an address (``auto`` or
``ray://host:port``). Code that needs parallel work calls :func:`run_tasks`,
which uses Ray when it is running and this process otherwise, so models and
their tests also work without a cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from within.errors import ConfigError, WithinError

logger = logging.getLogger(__name__)


@dataclass
class Task:
    """A callable to run with its arguments and the resources it needs."""

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    num_cpus: float = 1
    num_gpus: float = 0
    name: str = ""


def ray_is_running() -> bool:
    import ray

    return ray.is_initialized()


@contextlib.contextmanager
def ray_session(address: Optional[str] = None, *, num_cpus: Optional[int] = None,
                num_gpus: Optional[float] = None) -> Iterator[None]:
    """Run the body with Ray connected; stop Ray afterwards only if we started it."""
    import ray

    if ray.is_initialized():
        yield
        return
    kwargs: dict[str, Any] = {"log_to_driver": True, "configure_logging": False}
    if address:
        kwargs["address"] = address
        logger.info("Connecting to the Ray cluster at %s", address)
    else:
        # "local" starts a private Ray even when RAY_ADDRESS is set or another
        # cluster runs on this machine; a job without an address never joins one.
        kwargs.update(address="local", include_dashboard=False, num_cpus=num_cpus,
                      num_gpus=num_gpus)
        logger.info("Starting a local Ray (%s CPUs)", num_cpus or os.cpu_count())
    try:
        ray.init(**kwargs)
    except (ValueError, ConnectionError) as exc:
        if not address:
            raise
        raise ConfigError("--address", f'cannot connect to Ray at "{address}": {exc}. '
                          'Use "auto" on a cluster node, host:port of the head, or '
                          "ray://host:10001; without --address a local Ray starts"
                          ) from None
    try:
        yield
    finally:
        ray.shutdown()


def run_inline(tasks: list[Task]) -> list[Any]:
    """Run ``tasks`` one after the other in this process.

    For code already running inside a Ray worker with its own reserved resources,
    such as a tuning trial, where nested tasks would wait for CPUs the trial holds.
    """
    results = []
    for task in tasks:
        logger.debug("Running %s in this process", task.name or task.fn.__name__)
        results.append(task.fn(*task.args, **task.kwargs))
    return results


def run_tasks(tasks: list[Task]) -> list[Any]:
    """Run ``tasks`` and return their results in order.

    As Ray tasks with their declared resources when Ray is running, one after the
    other in this process otherwise. An exception in a task is raised here.
    """
    if not tasks:
        return []
    if not ray_is_running():
        return run_inline(tasks)

    import ray

    refs = []
    for task in tasks:
        remote = ray.remote(task.fn).options(
            num_cpus=task.num_cpus, num_gpus=task.num_gpus,
            name=task.name or task.fn.__name__)
        refs.append(remote.remote(*task.args, **task.kwargs))
    logger.debug("Submitted %d Ray tasks", len(refs))
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        # A user's mistake found inside a task is shown as it would be in this
        # process (one line); anything else keeps the task's traceback.
        if isinstance(exc.cause, WithinError):
            raise exc.cause from None
        raise exc.as_instanceof_cause() from None
