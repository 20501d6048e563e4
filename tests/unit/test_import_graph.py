"""Each path imports only what it needs: the API (intake is its public path) and the outbox relay
load no routing, catalog or notification code when they start. Checked in a fresh interpreter
through ``sys.modules`` (what is loaded, not how long it takes: the timing is the `imports`
benchmark's job)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sos1379.routing", "sos1379.catalog", "sos1379.notify")


def loaded_after(statement: str, cwd: Path = ROOT) -> set[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/core/python"), str(cwd), str(ROOT)]),
           "AWS_DEFAULT_REGION": "ap-northeast-2", "POWERTOOLS_METRICS_DISABLED": "true"}
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in HEAVY))


def test_the_api_loads_no_routing_catalog_or_notify_code_when_app_py_is_imported():
    modules = loaded_after("import app")
    assert "sos1379.api.public" in modules and "sos1379.intake" in modules  # the walk saw the API
    assert heavy(modules) == []


def test_the_api_loads_the_attachment_and_equipment_services_only_when_a_request_needs_them():
    modules = loaded_after("import app")
    assert "sos1379.api.attachments" in modules and "sos1379.api.equipment" in modules
    assert not {"sos1379.attachments", "sos1379.equipment.service"} & modules
    # the OpenAPI document quotes the attachment limits: building it loads the service
    assert "sos1379.attachments" in loaded_after("import app\nfrom sos1379.api import attachments\n"
                                                 "assert '20 a case' in str(attachments.OPENAPI_PATHS)")


def test_the_intake_service_loads_no_routing_catalog_or_notify_code_when_imported():
    assert heavy(loaded_after("import sos1379.intake")) == []


def test_the_outbox_relay_loads_no_routing_catalog_or_notify_code_when_its_handler_is_imported():
    modules = loaded_after("import handler", ROOT / "functions" / "relay_outbox")
    assert "sos1379.outbox" in modules
    assert heavy(modules) == []


@pytest.mark.parametrize("package, name", [("sos1379.routing", "get_router"), ("sos1379.notify", "Notifier")])
def test_a_package_loads_its_heavy_modules_only_when_a_name_is_used(package, name):
    assert heavy(loaded_after(f"import {package}")) == [package]
    assert len(heavy(loaded_after(f"from {package} import {name}"))) > 1


def test_the_api_document_lists_every_request_model_when_the_services_load_lazily():
    modules = loaded_after("import app\nfrom sos1379.api import openapi\n"
                           "schemas = openapi.document()['components']['schemas']\n"
                           "assert {'PublicCaseSubmission', 'InstituteDecline', 'CoordinatorAssign', 'CaseWithdraw'}"
                           " <= set(schemas), sorted(schemas)")
    assert "sos1379.institutes.service" in modules


@pytest.mark.parametrize("function", ["send_follow_ups", "monthly_report"])  # process_attachments: no pydantic at all (below)
def test_a_worker_loads_no_email_validator_when_its_handler_is_imported(function):
    # they import helpers (parse_model, Text) from modules that also hold the API's request models;
    # those models are built on first validation (defer_build), so EmailStr's validator stays out
    modules = loaded_after("import handler", ROOT / "functions" / function)
    assert "sos1379.models" in modules
    assert "email_validator" not in modules


def test_the_router_loads_the_partner_side_only_for_a_hand_off_when_its_handler_is_imported():
    modules = loaded_after("import handler", ROOT / "functions" / "route_case")
    assert "sos1379.referrals.fanout" in modules
    assert not {"sos1379.institutes.partners", "sos1379.models", "email_validator"} & modules
    assert "sos1379.institutes.partners" in loaded_after(
        "import handler\nfrom sos1379.referrals import fanout\nfanout.partners.handoff_action",
        ROOT / "functions" / "route_case")


def test_the_api_builds_its_request_models_on_first_validation_not_when_app_py_is_imported():
    loaded_after("import app\n"
                 "from sos1379 import models\n"
                 "from sos1379.equipment.service import ReservationInput\n"
                 "assert not models.PublicCaseSubmission.__pydantic_complete__\n"
                 "assert not ReservationInput.__pydantic_complete__\n"
                 "try:\n"
                 "    models.parse_model(models.PublicCaseSubmission, {})\n"
                 "except models.ValidationFailed as exc:\n"
                 "    assert {e.field for e in exc.errors} >= {'company', 'contact'}, exc.errors\n"
                 "else:\n"
                 "    raise AssertionError('an empty submission was accepted')\n"
                 "assert models.PublicCaseSubmission.__pydantic_complete__")


def test_the_outbox_relay_loads_no_pydantic_when_its_handler_is_imported():
    # it copies table items to queues: the wire bodies come from sos1379.events, not the models
    modules = loaded_after("import handler", ROOT / "functions" / "relay_outbox")
    assert {"sos1379.outbox", "sos1379.settings", "sos1379.events", "sos1379.store"} <= modules
    assert not {m for m in modules if m == "pydantic" or m.startswith("pydantic.")}


def test_settings_events_and_the_store_load_no_pydantic_when_imported():
    modules = loaded_after("import sos1379.settings, sos1379.events, sos1379.store, sos1379.outbox\n"
                           "from sos1379.settings import get_settings\nget_settings()")
    assert "pydantic" not in modules


@pytest.mark.parametrize("function", ["notify_sme", "route_case"])
def test_a_consumer_builds_its_models_on_the_first_record_not_when_its_handler_is_imported(function):
    # the message, the directory's records and the referral message: built by the first record that
    # needs them (the bench's first_record figure), none by the import
    loaded_after("import handler\n"
                 "from pydantic import BaseModel\n"
                 "def subclasses(c):\n"
                 "    for s in c.__subclasses__():\n"
                 "        yield s\n"
                 "        yield from subclasses(s)\n"
                 "built = [s.__name__ for s in subclasses(BaseModel) if s.__module__.startswith('sos1379') "
                 "and s.__pydantic_complete__]\n"
                 "assert built == [], built\n"
                 "from sos1379.messages import CaseMessage\n"
                 "assert not CaseMessage.__pydantic_complete__\n"
                 "CaseMessage.from_body('{\"version\": 1, \"event_id\": \"e\", \"case_id\": \"c\", \"type\": \"t\", "
                 "\"at\": \"2026-11-26T01:00:00.000Z\"}')\n"
                 "assert CaseMessage.__pydantic_complete__", ROOT / "functions" / function)


def test_the_attachment_worker_loads_no_pydantic_until_an_upload_request_or_the_daily_pass_needs_it():
    modules = loaded_after("import handler", ROOT / "functions" / "process_attachments")
    assert "sos1379.attachments" in modules and "pydantic" not in modules
    assert "pydantic" in loaded_after("import sos1379.attachments as a\n"
                                      "from sos1379.errors import ValidationFailed\n"
                                      "try:\n    a._upload_request({'filename': 'x.png'})\n"
                                      "except ValidationFailed:\n    pass")
