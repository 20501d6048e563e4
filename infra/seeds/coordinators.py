"""Local development token issuer: a fresh HS256 secret per local stack.

template.yaml leaves ``CoordinatorDevJwtSecret`` empty (AWS accepts Cognito tokens only). When the
stack was started without one, this seed makes one up and puts it where the API (served in this
process, after the seeds) and ``sos1379 token`` (through .local/stack.json's ``env``) read it. A
token minted for one stack therefore stops working when that stack stops."""
from __future__ import annotations

import os
import secrets

VARIABLE = "COORDINATOR_DEV_JWT_SECRET"


LOCAL_FLAG = "SOS1379_LOCAL_STACK"


def seed(stack) -> None:
    # The staff console's dev login exists only where this flag is set: never by template.yaml.
    stack.env[LOCAL_FLAG] = "1"
    os.environ[LOCAL_FLAG] = "1"
    if len(stack.env.get(VARIABLE) or "") >= 32:
        return
    secret = secrets.token_urlsafe(32)
    stack.env[VARIABLE] = secret      # the merged environment: written to stack.json as "env"
    os.environ[VARIABLE] = secret     # the API served by this process reads it on first use
