"""Connecting to Ray: a private local Ray by default, clear errors for bad addresses.

These tests start and stop Ray themselves, so none may share a running one.
"""

from __future__ import annotations

import pytest

from within.errors import ConfigError
from within.runtime import Task, ray_session, run_tasks


@pytest.fixture(autouse=True)
def no_ray_running():
    import ray

    assert not ray.is_initialized(), "an earlier test left Ray running"
    yield
    ray.shutdown()


@pytest.mark.ray
def test_bad_address_is_a_config_error():
    with pytest.raises(ConfigError, match='--address: cannot connect to Ray at '
                       '"notanaddress"'):
        with ray_session("notanaddress"):
            pass


@pytest.mark.ray
def test_a_job_without_address_starts_a_private_ray(monkeypatch):
    # Even with RAY_ADDRESS pointing somewhere, a job without an address runs on
    # a Ray of its own, and stops it afterwards.
    import ray

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    with ray_session(None, num_cpus=1):
        assert ray.cluster_resources()["CPU"] == 1
    assert not ray.is_initialized()


@pytest.mark.ray
def test_a_user_error_inside_a_task_arrives_as_itself(tmp_path):
    from within.data import read_table
    from within.errors import DataError

    missing = tmp_path / "missing.csv"
    with ray_session(None, num_cpus=1):
        with pytest.raises(DataError) as info:
            run_tasks([Task(read_table, args=(missing,))])
    # The task's own exception, not Ray's wrapper with a traceback in its text.
    assert type(info.value) is DataError
    assert str(info.value) == f'data.path: file "{missing}" does not exist'
