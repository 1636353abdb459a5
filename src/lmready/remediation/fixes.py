"""The one fix registry, keyed by the fix names that checks declare (REQUIREMENTS.md section 4).

It is built from the requirement modules (lmready.catalogue.load_fixes): each declares its ``FIX``
and marks its planner with ``@planner``. Built on first use: the modules import remediation's
planner toolkit (lmready.remediation.planners), so they cannot be loaded while it is imported.
"""

from __future__ import annotations

import functools

from lmready.catalogue import Fix, load_fixes


@functools.cache
def registry() -> dict[str, Fix]:
    return load_fixes()
