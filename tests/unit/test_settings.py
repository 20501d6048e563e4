"""One settings object (sos1379.settings): every variable the template sets is read there, no other
module reads the environment for configuration, and tests can swap settings without side effects."""
from __future__ import annotations

import re

import pytest

from sos1379 import settings as settings_module
from sos1379.settings import CatalogSettings, Settings, get_settings, override
from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "core" / "python" / "sos1379"
#: read elsewhere on purpose: Powertools reads its own; secrets are read at run time by
#: sos1379.runtime_secrets (the environment names only their SSM parameters)
NOT_SETTINGS = re.compile(r"^(POWERTOOLS_.*|.*_PARAMETER)$")
#: modules that may touch os.environ: the settings loader and the two secret readers
ENV_READERS = {"settings.py", "runtime_secrets.py", "notify/provider_kr.py"}


def _template_variables(template: dict) -> set[str]:
    names = set(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            names |= set(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {})
    return names


def test_every_variable_the_template_sets_is_a_settings_field_when_it_is_configuration(template):
    readable = settings_module.variables() | {f"CATALOG_SOURCE_{s.upper()}_URL" for s in settings_module.CATALOG_SOURCES}
    missing = sorted(n for n in _template_variables(template) if n not in readable and not NOT_SETTINGS.match(n))
    assert missing == []


def test_no_module_but_settings_reads_the_environment_for_configuration_when_scanned():
    readers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                     if re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text(encoding="utf-8")))
    assert set(readers) <= ENV_READERS, readers


def test_groups_read_their_own_variables_and_an_empty_variable_counts_as_unset_when_loaded():
    loaded = Settings.from_env({
        "CASES_TABLE": "cases", "NOTIFY_QUIET_START_HOUR": "22", "NOTIFY_SENDER_EMAIL": "",
        "COORDINATOR_ALERTS_TOPIC_ARN": "arn:topic", "SOS1379_LOCAL_STACK": "1",
        "CATALOG_SOURCE_ZEUS_URL": "http://zeus", "CATALOG_BUCKET": "catalog",
        "RATE_LIMITS": "intake=2/60", "NOTIFY_RECIPIENT_DAILY_CAP": "5", "SOS1379_NOTIFY_RECIPIENT_DAILY_CAP": "",
    })
    assert loaded.cases_table == "cases" and loaded.notify.quiet_start_hour == 22
    assert loaded.notify.sender_email == "no-reply@sos1379.example.kr"  # "" = the default
    assert loaded.sla.alerts_topic_arn == "arn:topic" and loaded.coordinators.local_stack is True
    assert loaded.catalog.source_urls == {"zeus": "http://zeus"}
    assert loaded.routing.model_bucket == "catalog"  # ROUTER_MODEL_BUCKET unset: the catalog bucket
    assert loaded.limits.rate_limits == "intake=2/60" and loaded.limits.recipient_daily_cap == 5


def test_the_operator_override_wins_over_the_template_value_when_both_are_set():
    loaded = Settings.from_env({"RATE_LIMITS": "intake=2/60", "SOS1379_RATE_LIMITS": "off"})
    assert loaded.limits.rate_limits == "off"


def test_settings_are_read_once_and_override_restores_them_when_the_block_ends(monkeypatch):
    monkeypatch.setenv("CASES_TABLE", "first")
    get_settings.cache_clear()
    assert get_settings().cases_table == "first"
    monkeypatch.setenv("CASES_TABLE", "second")
    assert get_settings().cases_table == "first"  # cached for the process
    with override(cases_table="drill", catalog={"bucket": "b"}) as installed:
        assert get_settings() is installed and installed.catalog.bucket == "b"
        assert installed.catalog.table == "sos1379-catalog"  # the rest of the group is kept
    assert get_settings().cases_table == "first"
    with override(Settings(catalog=CatalogSettings(table="t"))):
        assert get_settings().catalog.table == "t" and get_settings().cases_table == "sos1379-cases"
    get_settings.cache_clear()
    assert get_settings().cases_table == "second"


def test_a_value_of_the_wrong_type_names_its_variable_not_the_value_when_loaded():
    with pytest.raises(settings_module.SettingsError, match="NOTIFY_QUIET_START_HOUR") as err:
        Settings.from_env({"NOTIFY_QUIET_START_HOUR": "nine-ish"})
    assert "nine-ish" not in str(err.value)
    with pytest.raises(settings_module.SettingsError, match="SOS1379_LOCAL_STACK"):
        Settings.from_env({"SOS1379_LOCAL_STACK": "maybe"})
    assert Settings.from_env({"SOS1379_LOCAL_STACK": "off"}).coordinators.local_stack is False


def test_settings_are_immutable_when_a_module_tries_to_change_them():
    with pytest.raises(Exception):
        get_settings().notify.sender_email = "x@example.com"  # type: ignore[misc]
