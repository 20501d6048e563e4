"""The referral message contract: the published schema is the model's, the sample validates, and
the consent rule holds in both the model and the schema."""
import copy
import json

import jsonschema
import pytest
from pydantic import ValidationError

from sos1379.referrals.message import SAMPLE_FILE, SCHEMA_FILE, ReferralMessageV1, json_schema
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((ROOT / SCHEMA_FILE).read_text(encoding="utf-8"))


@pytest.fixture
def sample() -> dict:
    return json.loads((ROOT / SAMPLE_FILE).read_text(encoding="utf-8"))


def test_published_schema_equals_model_schema_when_regenerated(schema):
    assert schema == json.loads(json.dumps(json_schema()))


def test_sample_validates_against_schema_and_model_when_loaded(schema, sample):
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(sample, schema, cls=jsonschema.Draft202012Validator)
    assert ReferralMessageV1.model_validate(sample).referral_id == sample["referral_id"]


def test_schema_rejects_contact_when_withheld_is_true(schema, sample):
    bad = copy.deepcopy(sample)
    bad["contact"] = {"name": "김민수", "phone": "+821012345678", "email": "a@example.com"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(ValidationError):
        ReferralMessageV1.model_validate(bad)


def test_schema_requires_contact_when_not_withheld(schema, sample):
    bad = copy.deepcopy(sample)
    bad["contact_withheld"] = False
    del bad["contact"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(ValidationError):
        ReferralMessageV1.model_validate(bad)


def test_schema_accepts_unknown_fields_when_v1_grows(schema, sample):
    grown = {**sample, "new_optional_field": "ignored by v1 consumers"}
    jsonschema.validate(grown, schema, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_message_when_required_field_missing(schema, sample):
    for field in ("referral_id", "case_id", "institute", "routing", "respond_by"):
        bad = {k: v for k, v in sample.items() if k != field}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
