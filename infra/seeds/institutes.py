"""Local stack only: the documented dev API key ``dev-<CODE>-key`` for every institute, so
``sos1379 institute poll KITECH`` and the examples in docs/institutes.md work on a fresh stack.
These keys are public knowledge; nothing seeds them in AWS (only this local seed calls
``seed_dev_keys``)."""
from __future__ import annotations


def seed(stack) -> None:
    from sos1379.institutes.keys import seed_dev_keys
    from sos1379.store import CaseStore

    seed_dev_keys(CaseStore(stack.physical_id("CasesTable"), stack.resource("dynamodb")))
