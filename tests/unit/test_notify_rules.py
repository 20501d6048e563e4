"""Pure notification rules: templates, SMS length, quiet hours, channel choice, error classes."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from sos1379.korea import SEOUL
from sos1379.lifecycle import NOTIFY_EVENTS
from sos1379.notify.channels import PermanentSendError, TransientSendError, classify
from sos1379.notify.links import build_links
from sos1379.notify.quiet import in_quiet_hours, next_hop_seconds, release_at
from sos1379.notify.service import backoff_seconds, chosen_channels
from sos1379.notify.templates import PLACEHOLDERS, TemplateError, load_templates, parse_templates, sms_length

VALUES = {"case_number": "261126-0007", "title": "용접부 균열", "company": "한빛정밀",
          "due_date": "11월 30일(월) 18:00", "institute": "한국생산기술연구원", "question": "사진을 보내주세요",
          "answer_due": "", "summary": "열처리 조건 변경", "partner": "기업마당 1357", "partner_contact": "1357",
          **{k: v for k, v in build_links("c" * 32, "T" * 16, "https://sos1379.kr").__dict__.items() if k != "token"}}


def kst(hour: int, minute: int = 0, day: int = 26) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


@pytest.mark.parametrize("event_type,language", itertools.product(sorted(NOTIFY_EVENTS), ["ko", "en"]))
def test_every_notify_event_renders_in_both_languages_when_all_values_are_given(event_type, language):
    rendered = load_templates().render(event_type, language, VALUES)
    assert rendered.language == language
    assert "261126-0007" in rendered.email_subject
    assert VALUES["tracking_url"] in rendered.email_body
    assert "261126-0007" in rendered.sms and VALUES["short_url"].split("/t/")[0] in rendered.sms
    assert "{" not in rendered.sms + rendered.email_subject + rendered.email_body


def test_templates_only_use_known_placeholders_when_parsed():
    import string

    raw = load_templates().raw
    texts = [raw["sms_short"][lang] for lang in ("ko", "en")] + [raw["email_footer"][lang] for lang in ("ko", "en")]
    for event in raw["events"].values():
        for lang in ("ko", "en"):
            texts += [event[lang][k] for k in ("sms", "email_subject", "email_body")]
    used = {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}
    assert used <= PLACEHOLDERS


def test_unknown_placeholder_fails_loudly_when_a_template_has_a_typo():
    bad = parse_templates('''
[sms_short]
ko = "{case_number}"
[email_footer]
ko = ""
[events."case.submitted"]
urgent = true
[events."case.submitted".ko]
sms = "{case_numbr}"
email_subject = "x"
email_body = "y"
''')
    with pytest.raises(TemplateError):
        bad.render("case.submitted", "ko", VALUES)


def test_unknown_language_falls_back_to_korean_when_rendering():
    assert load_templates().render("case.submitted", "ja", VALUES).language == "ko"


def test_korean_sms_counts_ucs2_segments_of_70_when_measured():
    assert sms_length("가" * 70).segments == 1
    assert sms_length("가" * 71).segments == 2
    assert sms_length("가" * 134).segments == 2 and sms_length("가" * 135).segments == 3
    assert sms_length("A" * 160).encoding == "GSM-7" and sms_length("A" * 160).segments == 1
    assert sms_length("A" * 69 + "가").encoding == "UCS-2"


def test_long_sms_becomes_short_form_with_case_number_and_link_when_over_one_segment():
    rendered = load_templates().render("case.submitted", "ko", VALUES)
    assert rendered.sms_short_form
    assert rendered.sms == f"[1379] 261126-0007 진행상황 {VALUES['short_url']}"
    assert rendered.sms_segments == 1


def test_english_sms_keeps_full_text_when_it_fits_160_gsm_characters():
    values = {**VALUES, "due_date": "Mon 30 Nov 18:00 KST"}
    rendered = load_templates().render("case.submitted", "en", values)
    assert not rendered.sms_short_form and "Guidance by Mon 30 Nov 18:00 KST" in rendered.sms


@pytest.mark.parametrize("local,expected", [
    (kst(23), kst(8, day=27)), (kst(21), kst(8, day=27)), (kst(2, 30), kst(8)), (kst(7, 59), kst(8)),
    (kst(8), None), (kst(20, 59), None), (kst(12), None),
])
def test_quiet_hours_release_at_08h_kst_when_between_21h_and_08h(local, expected):
    got = release_at(local.astimezone(timezone.utc))
    assert got == expected
    assert in_quiet_hours(local) == (expected is not None)


def test_deferral_hops_are_capped_at_900_seconds_when_release_is_hours_away():
    now = kst(23).astimezone(timezone.utc)
    assert next_hop_seconds(now, kst(8, day=27)) == 900
    assert next_hop_seconds(kst(7, 55), kst(8)) == 300
    assert next_hop_seconds(kst(8, 1), kst(8)) == 0


def test_only_chosen_channels_with_an_address_are_used_when_picking_channels():
    contact = {"phone": "+821012345678", "email": "a@b.kr"}
    assert chosen_channels({"contact": {**contact, "preferred_channels": ["sms", "email"]}}) == ["sms", "email"]
    assert chosen_channels({"contact": {**contact, "preferred_channels": ["email"]}}) == ["email"]
    assert chosen_channels({"contact": {"email": "a@b.kr", "preferred_channels": ["sms", "email"]}}) == ["email"]
    assert chosen_channels({"contact": {**contact, "preferred_channels": []}}) == []


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Publish")


@pytest.mark.parametrize("code,status,kind", [
    ("InvalidParameter", 400, PermanentSendError), ("MessageRejected", 400, PermanentSendError),
    ("OptedOut", 400, PermanentSendError), ("ValidationException", 400, PermanentSendError),
    ("Throttling", 400, TransientSendError), ("TooManyRequestsException", 429, TransientSendError),
    ("InternalError", 500, TransientSendError), ("ServiceUnavailable", 503, TransientSendError),
    ("AuthorizationError", 403, TransientSendError), ("SomethingNew", 502, TransientSendError),
    ("SomethingElse", 400, PermanentSendError),
])
def test_provider_errors_are_classified_when_a_send_fails(code, status, kind):
    assert isinstance(classify(_client_error(code, status), "sns"), kind)


def test_connection_that_never_reached_provider_is_transient_but_read_timeout_is_ambiguous():
    assert isinstance(classify(EndpointConnectionError(endpoint_url="https://x"), "ses"), TransientSendError)
    timeout = ReadTimeoutError(endpoint_url="https://x")
    assert classify(timeout, "ses") is timeout


def test_retry_backoff_grows_and_stays_within_sqs_limits_when_retrying():
    for count in range(1, 12):
        for _ in range(50):
            delay = backoff_seconds(count)
            assert 15 <= delay <= 900
    assert max(backoff_seconds(1) for _ in range(200)) <= 30


def test_sample_notify_queue_event_parses_as_notify_messages_when_loaded():
    import json

    from sos1379.notify.service import NotifyMessage
    from tests.conftest import load_event

    records = load_event("sqs/notify_case_referred.json")["Records"]
    first, deferred = (NotifyMessage(**json.loads(r["body"])) for r in records)
    assert first.type == deferred.type == "case.referred" and first.event_id == deferred.event_id
    assert first.deliver_after is None and deferred.deliver_after == "2026-11-26T23:00:00.000Z"
    assert "phone" not in records[0]["body"] and "email" not in records[0]["body"]
