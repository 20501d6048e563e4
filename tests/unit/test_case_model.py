import copy

import pytest

from sos1379.errors import ValidationFailed
from sos1379.lifecycle import Status, check_transition
from sos1379.errors import InvalidTransition
from sos1379.models import CaseSubmission, parse_model


def _errors(payload) -> dict:
    with pytest.raises(ValidationFailed) as info:
        parse_model(CaseSubmission, payload)
    return {e.field: e for e in info.value.errors}


def test_valid_case_is_normalised(sample_case):
    sample_case["title"] = "  용접 균열\u0020 "
    sample_case["contact"]["preferred_channels"] = ["sms", "email", "sms"]
    case = parse_model(CaseSubmission, sample_case)
    assert case.contact.phone == "+821012345678"
    assert case.company.region == "daejeon"
    assert case.company.business_number == "116-82-00276"
    assert case.contact.preferred_channels == ["email", "sms"]
    assert case.title == "용접 균열"


def test_decomposed_hangul_is_stored_nfc(sample_case):
    import unicodedata

    sample_case["title"] = unicodedata.normalize("NFD", "용접 균열 문제")
    assert parse_model(CaseSubmission, sample_case).title == unicodedata.normalize("NFC", "용접 균열 문제")


def test_wrong_business_number_names_the_field_in_both_languages(sample_case):
    sample_case["company"]["business_number"] = "116-82-00277"
    err = _errors(sample_case)["company.business_number"]
    assert "사업자등록번호" in err.message_ko and "business registration" in err.message_en


def test_every_bad_field_is_reported_at_once(sample_case):
    bad = copy.deepcopy(sample_case)
    bad["channel"] = "fax"
    bad["contact"]["phone"] = "02-123-4567"
    bad["contact"]["email"] = "not-an-email"
    bad["consent"]["personal_info"] = False
    bad["company"]["region"] = "Atlantis"
    bad["description"] = "짧음"
    del bad["title"]
    errors = _errors(bad)
    assert set(errors) == {"channel", "contact.phone", "contact.email", "consent.personal_info",
                           "company.region", "description", "title"}
    assert errors["title"].code == "missing"


def test_unknown_fields_are_rejected(sample_case):
    sample_case["contact"]["fax"] = "02-000-0000"
    assert "contact.fax" in _errors(sample_case)


def test_title_length_is_bounded(sample_case):
    sample_case["title"] = "가" * 201
    assert _errors(sample_case)["title"].code == "string_too_long"


def test_empty_channel_list_is_rejected(sample_case):
    sample_case["contact"]["preferred_channels"] = []
    assert "contact.preferred_channels" in _errors(sample_case)


def test_allowed_transition_passes_and_forbidden_one_raises():
    assert check_transition("received", "referred") is Status.REFERRED
    with pytest.raises(InvalidTransition):
        check_transition("closed", "referred")
    with pytest.raises(InvalidTransition):
        check_transition("received", "accepted")


def test_terminal_states_have_no_exit():
    from sos1379.lifecycle import TERMINAL_STATUSES, TRANSITIONS

    assert all(not TRANSITIONS[s] for s in TERMINAL_STATUSES)
