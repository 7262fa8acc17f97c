"""The OpenAPI 3.1 description of every HTTP function, served at ``/openapi.json``.

``document()`` is the spec; ``operations()`` lists (method, router pattern)
for each operation in it, so a test can hold the routers and the spec in step.
"""

from __future__ import annotations

from shared.openapi.spec import document, operations, to_router_pattern

__all__ = ["document", "operations", "to_router_pattern"]
