"""Secrets come from SSM Parameter Store at run time (sos1379.runtime_secrets), never from a function's
environment: the company index key and the catalog source keys, read through Powertools
Parameters (decrypted, cached in the execution environment) from moto's SSM."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from sos1379 import companies, runtime_secrets as secrets
from sos1379.catalog import service as catalog_service


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")
    for name in ("COMPANY_INDEX_KEY", "CATALOG_SOURCE_ZEUS_KEY", "CATALOG_SOURCE_NTIS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        secrets.clear_cache()
        yield boto3.client("ssm", region_name="ap-northeast-2")
    secrets.clear_cache()


def test_company_key_uses_the_securestring_named_by_the_environment_when_configured(ssm, monkeypatch):
    dev = companies.company_key("116-82-00276")
    ssm.put_parameter(Name="/sos1379/company-index-key", Type="SecureString", Value="a-long-random-production-key")
    monkeypatch.setenv("COMPANY_INDEX_KEY_PARAMETER", "/sos1379/company-index-key")
    production = companies.company_key("116-82-00276")
    assert production != dev
    assert production == companies.company_key("1168200276")


def test_company_key_fails_loudly_when_its_parameter_cannot_be_read(ssm, monkeypatch):
    # falling back to the development key would silently split every company's record
    monkeypatch.setenv("COMPANY_INDEX_KEY_PARAMETER", "/sos1379/missing")
    with pytest.raises(secrets.SecretUnavailable) as caught:
        companies.company_key("116-82-00276")
    assert caught.value.parameter == "/sos1379/missing"


def test_secret_is_read_once_per_max_age_not_per_request(ssm, monkeypatch):
    ssm.put_parameter(Name="/sos1379/company-index-key", Type="SecureString", Value="first")
    monkeypatch.setenv("COMPANY_INDEX_KEY_PARAMETER", "/sos1379/company-index-key")
    first = companies.company_key("116-82-00276")
    ssm.put_parameter(Name="/sos1379/company-index-key", Type="SecureString", Value="rotated", Overwrite=True)
    assert companies.company_key("116-82-00276") == first  # cached (SECRET_MAX_AGE seconds)
    secrets.clear_cache()  # what the passing of max_age does
    assert companies.company_key("116-82-00276") != first
    assert secrets.SECRET_MAX_AGE == 300


def test_catalog_source_keys_come_from_one_json_securestring(ssm, monkeypatch):
    ssm.put_parameter(Name="/sos1379/catalog/source-keys", Type="SecureString",
                      Value=json.dumps({"zeus_key": "z-123", "ntis_key": "n-456"}))
    monkeypatch.setenv("CATALOG_SOURCE_KEYS_PARAMETER", "/sos1379/catalog/source-keys")
    assert catalog_service.source_keys() == {"zeus_key": "z-123", "ntis_key": "n-456"}
    settings = catalog_service.CatalogSettings(source_urls={"zeus": "http://127.0.0.1:9", "ntis": "http://127.0.0.1:9"})
    assert catalog_service.build_adapter("zeus", settings).key == "z-123"


def test_environment_value_wins_for_local_runs_and_nothing_configured_means_none(ssm, monkeypatch):
    assert secrets.read_secret("CATALOG_SOURCE_KEYS", transform="json") is None
    monkeypatch.setenv("COMPANY_INDEX_KEY", "local")
    monkeypatch.setenv("COMPANY_INDEX_KEY_PARAMETER", "/sos1379/missing")
    assert secrets.read_secret("COMPANY_INDEX_KEY") == "local"
