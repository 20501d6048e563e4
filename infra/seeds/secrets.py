"""Local stack: the secrets template.yaml's functions read from SSM Parameter Store at run time.

In AWS an operator creates these SecureStrings before deploying (docs/deploy.md); here moto's SSM
gets the local values: the catalog stand-ins' API keys (``CATALOG_SOURCE_KEYS_PARAMETER``) and the
development company index key (``COMPANY_INDEX_KEY_PARAMETER``, the value sos1379.companies uses
when no parameter is configured, so in-process tools and the stack key companies alike).
Idempotent (``Overwrite``)."""
from __future__ import annotations

import json


def local_values() -> dict[str, str]:
    """Environment variable naming a parameter -> the value the local stack stores under it."""
    from infra.standins.servers import NTIS_KEY, ZEUS_KEY
    from sos1379.companies import _DEV_KEY

    return {"CATALOG_SOURCE_KEYS_PARAMETER": json.dumps({"zeus_key": ZEUS_KEY, "ntis_key": NTIS_KEY}),
            "COMPANY_INDEX_KEY_PARAMETER": _DEV_KEY}


def seed(stack) -> None:
    values = local_values()
    wanted: dict[str, str] = {}
    for fn in (stack.functions or {}).values():
        env = fn.get("env") or {}
        for variable, value in values.items():
            if env.get(variable):
                wanted[env[variable]] = value
    ssm = stack.client("ssm")
    for name, value in sorted(wanted.items()):
        ssm.put_parameter(Name=name, Type="SecureString", Overwrite=True, Value=value)
