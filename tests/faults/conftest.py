"""The fault suite's shared setup: the hypothesis profile, the seeds, and plants on disk.

Everything is seeded and bounded so a CI run is reproducible and stays within its time: the kill tests
take their random delays from `random.Random(seed)` over kit.SEEDS, and hypothesis runs derandomized
(the same examples every run) with a bounded number of examples. A failure prints the seed, or
hypothesis's reproduction blob (`@reproduce_failure`), to replay it.

    FAULTS_HYPOTHESIS_PROFILE=faults-long pytest tests/faults     # many more examples, random, by hand
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from eventkit import plant
from hypothesis import HealthCheck, Phase, settings

from faults.kit import SAMPLE, run_cli
from planner_tui.store import Store

settings.register_profile(
    "faults",
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,  # nothing written into the work tree; a failure prints its blob instead
    deadline=None,  # real files, sockets and DuckDB: timings vary with the machine's load
    max_examples=25,  # a default: each test sets its own bound with fault_settings(n)
    print_blob=True,  # a failure prints @reproduce_failure(...) to replay it exactly
    # No shrinking in CI: a failing example is reported as found (with its blob), so a failure costs no
    # more time than a pass; the first failure ends the test. Shrink by hand with faults-long.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
settings.register_profile(
    "faults-long",
    parent=settings.get_profile("faults"),
    derandomize=False,
    max_examples=1000,
    phases=list(Phase),
    report_multiple_bugs=True,
)
# The profiles are applied to this folder's tests only (faults.kit.fault_settings), never loaded globally:
# hypothesis tests elsewhere keep their own defaults.


@pytest.fixture(scope="session")
def generated_plant(tmp_path_factory) -> Path:
    """A synthetic plant (~41,000 rows), made once per test worker by the real generator."""
    out = tmp_path_factory.mktemp("generated") / "plant"
    result = run_cli("generate", "--out", out, "--scale", "0.01", "--seed", "1")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def sample_plant() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def _event_plant_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eventplant") / "plant.duckdb"
    plant(Store.open(path)).close()
    return path


@pytest.fixture
def event_plant_db(_event_plant_file, tmp_path) -> Path:
    """A database file holding eventkit's small plant (machines M1 and M2, stock of FG1...), per test."""
    path = tmp_path / "plant.duckdb"
    shutil.copyfile(_event_plant_file, path)
    return path
