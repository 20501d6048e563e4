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
def _resource_and_session(service: str):
    import boto3

    from .settings import get_settings

    with _lock:
        session = boto3.session.Session()
        return session.resource(service, region_name=get_settings().region, config=_config()), session


def resource(service: str):
    return _resource_and_session(service)[0]


@lru_cache(maxsize=None)
def plain_client(service: str):
    """A plain client (no resource layer) from :func:`resource`'s session: the service model is
    loaded once for both (a client from a fresh session loads it again: 30-200 ms)."""
    from .settings import get_settings

    session = _resource_and_session(service)[1]
    with _lock:
        return session.client(service, region_name=get_settings().region, config=_config())


def plain_twin(resource_client):
    """A plain client of the same service, endpoint, region, settings and credentials as a boto3
    resource's client (whose event hooks serialise Python values), for a store built on a
    resource it was given rather than on :func:`resource`."""
    import boto3

    meta = resource_client.meta
    credentials = resource_client._request_signer._credentials  # botocore keeps no public accessor
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    with _lock:
        return boto3.session.Session().client(
            meta.service_model.service_name, region_name=meta.region_name, endpoint_url=meta.endpoint_url,
            config=meta.config, aws_access_key_id=frozen.access_key if frozen else None,
            aws_secret_access_key=frozen.secret_key if frozen else None,
            aws_session_token=frozen.token if frozen else None)


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
    _resource_and_session.cache_clear()
    plain_client.cache_clear()
