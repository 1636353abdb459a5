"""Fixtures shared by lmready's own tests."""

from __future__ import annotations

import pytest

from lmready.lab.samba import SambaDC, load_directory, samba_available


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory):
    """One Samba AD DC for the whole session, with the lab's default directory: Samba's LDAP
    ports are fixed, so every test that needs a directory shares this one."""
    if not samba_available():
        pytest.skip("samba is not installed; make system (.ci/install-system-packages.sh) installs it")
    scenario = load_directory()
    with SambaDC.for_scenario(tmp_path_factory.mktemp("samba") / "dc", scenario) as server:
        server.apply(scenario)
        yield server
