"""Fixtures of the API tests: ``chalice.test.Client`` on app.py's own app (a Chalice blueprint can
be registered on one app per process only), with the test module's ``APP_ENV`` (for example the
secret that signs dev staff tokens) set while it runs."""
from __future__ import annotations

import pytest
from chalice.test import Client


@pytest.fixture
def app(aws, monkeypatch, request):
    from sos1379.settings import get_settings

    for name, value in getattr(request.module, "APP_ENV", {}).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    from app import app as application

    yield application
    get_settings.cache_clear()


@pytest.fixture
def client(app):
    with Client(app) as c:
        yield c
