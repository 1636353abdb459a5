"""Where a pytest run keeps its audit: one stash key, shared by the plugin's modules."""

import pytest

from lmready.audit import Audit

AUDIT = pytest.StashKey[Audit]()
