"""Reference data loaded into a fresh local stack by ``sos1379 up``.

Each module in this package that defines ``seed(stack)`` is run once, in module-name order, after
the resources exist and the dispatcher is running, and before the API is served. Add a seed by
adding a module here (``infra/seeds/<area>.py``); nobody edits a shared list.

``stack`` is an :class:`infra.localstack.seeding.SeedContext`: ``stack.client("dynamodb")``,
``stack.resource("dynamodb")``, ``stack.physical_id("CasesTable")``, ``stack.env`` (the merged
function environment, already applied to ``os.environ``), ``stack.function_env("X")``,
``stack.region``, ``stack.endpoint_url``. A seed must be idempotent and quick (it counts towards
the stack's start time) and must not log personal data.
"""
