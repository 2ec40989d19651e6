"""The test suite reads its own HEALTHMON_TEST_* variables like healthmon reads HEALTHMON_*:
set but empty means unset."""

from __future__ import annotations

import os
import sys

from tests.support.cli import ROOT, run


def test_empty_test_server_variables_mean_the_defaults() -> None:
    env = {**os.environ, "HEALTHMON_TEST_DATABASE_URL": "", "HEALTHMON_TEST_REDIS_URL": ""}
    argv = [sys.executable, "-m", "pytest", "-q", "tests/storage/test_queries.py", "-k", "matrix"]
    done = run(argv, env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "error" not in done.stdout.lower()
