"""Runtime configuration: one pydantic model read from the environment behind a cached getter.

Nothing reads the environment at import time; tests call ``get_settings.cache_clear()`` after
changing variables."""
from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel


class Settings(BaseModel):
    cases_table: str = "sos1379-cases"
    idempotency_table: str = "sos1379-idempotency"
    intake_queue_url: str = ""
    notify_queue_url: str = ""
    referral_queue_prefix: str = "sos1379-referrals-"
    public_base_url: str = "http://127.0.0.1:8000"
    region: str = "ap-northeast-2"
    idempotency_ttl_seconds: int = 24 * 3600
    attachments_bucket: str = ""
    handoff_queue_prefix: str = "sos1379-handoff-"


_ENV = {
    "cases_table": "CASES_TABLE",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "intake_queue_url": "INTAKE_QUEUE_URL",
    "notify_queue_url": "NOTIFY_QUEUE_URL",
    "referral_queue_prefix": "REFERRAL_QUEUE_PREFIX",
    "public_base_url": "PUBLIC_BASE_URL",
    "region": "AWS_DEFAULT_REGION",
    "attachments_bucket": "ATTACHMENTS_BUCKET",
    "handoff_queue_prefix": "HANDOFF_QUEUE_PREFIX",
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values = {field: os.environ[env] for field, env in _ENV.items() if os.environ.get(env)}
    return Settings(**values)
