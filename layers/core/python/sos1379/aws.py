"""Lazily created, shared boto3 clients with botocore's ``standard`` retry mode (full-jitter
backoff; boto3's default is still ``legacy``). ``AWS_ENDPOINT_URL`` alone points them at moto."""
from __future__ import annotations

import threading
from functools import lru_cache

_lock = threading.Lock()


@lru_cache(maxsize=None)
def _config():
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10,
                  max_pool_connections=50)


@lru_cache(maxsize=None)
def client(service: str):
    import boto3

    from .settings import get_settings

    with _lock:  # boto3's default session is not thread-safe while creating clients
        return boto3.session.Session().client(service, region_name=get_settings().region,
                                              config=_config())


@lru_cache(maxsize=None)
def resource(service: str):
    import boto3

    from .settings import get_settings

    with _lock:
        return boto3.session.Session().resource(service, region_name=get_settings().region,
                                                config=_config())


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
    resource.cache_clear()
