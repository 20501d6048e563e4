"""The local stack: template.yaml deployed into moto in server mode, a dispatcher that gives the
functions in functions/ Lambda's event-source semantics, seeds, and the Chalice API.

Entry points: ``sos1379 up`` (infra/cli/stack.py) or ``python -m infra.localstack``. Other
commands reach a running stack through :mod:`infra.localstack.state`. Kept import-light: the
function worker processes import this package before the function's code.
"""
