"""A real single-node SLURM cluster (with slurmdbd accounting) for the whole session; skipped without the packages."""

import pytest

from tests.helpers.slurm_cluster import SlurmCluster, missing_requirements


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    with SlurmCluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster
