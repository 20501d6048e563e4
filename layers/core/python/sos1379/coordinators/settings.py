"""Settings of the SLA pass, the coordinator API and reporting (same pattern as sos1379.settings:
read from the environment once, behind a cached getter; nothing at import time)."""
from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel

#: Issuer of development tokens (``sos1379 token``). Accepted only when a dev secret is configured,
#: which template.yaml leaves empty in AWS and the local stack fills with a per-stack secret.
DEV_ISSUER = "sos1379-local-dev"


class StaffSettings(BaseModel):
    alerts_topic_arn: str = ""
    reports_bucket: str = ""
    jwt_issuer: str = ""            # Cognito: https://cognito-idp.{region}.amazonaws.com/{pool id}
    jwks_url: str = ""              # default: {jwt_issuer}/.well-known/jwks.json
    jwt_audience: str = ""          # the Cognito app client ids (API client, staff console client), comma-separated
    console_client_id: str = ""     # the staff console's public app client (hosted UI, PKCE)
    cognito_domain: str = ""        # hosted UI base URL, e.g. https://sos1379-staff.auth.ap-northeast-2.amazoncognito.com
    local_stack: bool = False       # SOS1379_LOCAL_STACK=1: set by the local stack only (dev login)
    dev_jwt_secret: str = ""        # HS256 secret of the local development issuer (local stack only)
    queue_new_after_minutes: int = 30  # a case still "received" after this is shown in the queue


_ENV = {
    "alerts_topic_arn": "COORDINATOR_ALERTS_TOPIC_ARN",
    "reports_bucket": "REPORTS_BUCKET",
    "jwt_issuer": "COORDINATOR_JWT_ISSUER",
    "jwks_url": "COORDINATOR_JWKS_URL",
    "jwt_audience": "COORDINATOR_JWT_AUDIENCE",
    "dev_jwt_secret": "COORDINATOR_DEV_JWT_SECRET",
    "queue_new_after_minutes": "QUEUE_NEW_AFTER_MINUTES",
    "console_client_id": "STAFF_CONSOLE_CLIENT_ID",
    "cognito_domain": "STAFF_COGNITO_DOMAIN",
    "local_stack": "SOS1379_LOCAL_STACK",
}


@lru_cache(maxsize=1)
def get_staff_settings() -> StaffSettings:
    return StaffSettings(**{field: os.environ[env] for field, env in _ENV.items() if os.environ.get(env)})
