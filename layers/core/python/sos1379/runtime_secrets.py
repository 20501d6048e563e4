"""Secrets at run time: SSM Parameter Store SecureStrings read with Powertools Parameters.

Why not stack parameters copied into environment variables: a Lambda environment is readable by
anyone with ``lambda:GetFunctionConfiguration`` and shows in the console, so NoEcho only hid the
value from CloudFormation. Here the environment carries only the parameter's *name*
(``<NAME>_PARAMETER``); the function's role may ``ssm:GetParameter`` on that one ARN, and the value
is decrypted at run time and cached in the execution environment for ``SECRET_MAX_AGE`` seconds
(so a rotated value is picked up within minutes, and a warm function makes no SSM call per
request).

Local runs and tests may set the value itself (``<NAME>``) instead: it wins, as for the notify
provider's credentials (sos1379.notify.provider_kr). Nothing is read at import time.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

#: Seconds a decrypted value is kept in the execution environment (Powertools' cache).
SECRET_MAX_AGE = 300


class SecretUnavailable(RuntimeError):
    """The parameter is configured but cannot be read (missing, access denied, not JSON)."""

    def __init__(self, parameter: str) -> None:
        super().__init__(f"secret parameter {parameter} cannot be read")
        self.parameter = parameter


def _powertools_fetch(name: str, transform: str | None) -> Any:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_parameter(name, decrypt=True, transform=transform, max_age=SECRET_MAX_AGE)


def read_secret(name: str, *, env: Mapping[str, str] | None = None, transform: str | None = None,
                fetch: Callable[[str, str | None], Any] | None = None) -> Any | None:
    """The secret ``name`` (e.g. ``COMPANY_INDEX_KEY``): the environment's ``name`` when set (local
    runs), else the SSM parameter named by ``name + "_PARAMETER"``, else None (not configured).

    ``transform="json"`` parses a JSON value. Raises SecretUnavailable when a configured parameter
    cannot be read: a caller must never fall back to a development value in AWS."""
    env = os.environ if env is None else env
    if env.get(name):
        return env[name]
    parameter = env.get(f"{name}_PARAMETER", "")
    if not parameter:
        return None
    try:
        return (fetch or _powertools_fetch)(parameter, transform)
    except Exception as exc:  # noqa: BLE001 - whatever SSM or the transform says, it is unavailable
        raise SecretUnavailable(parameter) from exc


def clear_cache() -> None:
    """Forget cached values (tests that switch parameters)."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
