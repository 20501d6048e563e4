"""Pure notification rules: templates, SMS length, quiet hours, channel choice, error classes."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from sos1379.korea import SEOUL
from sos1379.lifecycle import NOTIFY_CONTROL_EVENTS, NOTIFY_EVENTS
from sos1379.notify.channels import PermanentSendError, TransientSendError, classify
from sos1379.notify.links import build_links
from sos1379.notify.quiet import in_quiet_hours, next_hop_seconds, release_at
from sos1379.notify.service import backoff_seconds, chosen_channels
from sos1379.notify.templates import (ALIMTALK_MAX_CHARS, PLACEHOLDERS, SUBMITTER_TEXT, TemplateError, approved_hash,
                                      euckr_bytes, load_templates, parse_templates, sms_length, variables_of)

LINKS = build_links("c" * 32, "T" * 16, "https://sos1379.kr", language="ko")
VALUES = {"case_number": "261126-0007", "due_date": "11월 30일(월) 18:00", "institute": "한국생산기술연구원",
          "question": "사진을 보내주세요", "answer_due": "", "partner": "기업마당 1357", "partner_phone": "1357",
          "partner_url": "https://www.bizinfo.go.kr", "missed_date": "11월 30일(월) 18:00",
          "new_date": "12월 1일(화) 18:00", "link": LINKS.short_url, "link_pc": LINKS.tracking_url,
          "survey_link": LINKS.survey_short_url}
# what a submitter could type: must never reach a message body or subject
SUBMITTED = {"title": "용접부 균열 XYZZY-TITLE", "company": "한빛정밀 XYZZY-COMPANY"}


def kst(hour: int, minute: int = 0, day: int = 26) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


@pytest.mark.parametrize("event_type,language", itertools.product(sorted(NOTIFY_EVENTS - NOTIFY_CONTROL_EVENTS), ["ko", "en"]))
def test_every_notify_event_renders_in_both_languages_when_all_values_are_given(event_type, language):
    rendered = load_templates().render(event_type, language, VALUES)
    assert rendered.language == language
    assert "261126-0007" in rendered.email_subject
    assert VALUES["link_pc"] in rendered.email_body
    assert "261126-0007" in rendered.alimtalk_text and "261126-0007" in rendered.text
    assert rendered.buttons and rendered.buttons[0].mobile == VALUES["link"]
    assert VALUES["link"] in rendered.text  # the button, written out for the text fallback
    assert rendered.alimtalk_code.endswith(language.upper() + "_01") or rendered.alimtalk_code
    everything = rendered.text + rendered.alimtalk_text + rendered.email_subject + rendered.email_body
    assert "{" not in everything and "#{" not in everything
    assert len(rendered.alimtalk_text) <= ALIMTALK_MAX_CHARS


@pytest.mark.parametrize("event_type,language", itertools.product(sorted(NOTIFY_EVENTS - NOTIFY_CONTROL_EVENTS), ["ko", "en"]))
def test_no_submitter_text_reaches_any_message_when_case_values_hold_title_and_company(event_type, language):
    rendered = load_templates().render(event_type, language, {**VALUES, **SUBMITTED})
    everything = rendered.text + rendered.alimtalk_text + rendered.email_subject + rendered.email_body
    assert "XYZZY" not in everything


def test_news_is_in_the_message_when_each_event_is_rendered():
    t = load_templates()
    receipt = t.render("case.submitted", "ko", VALUES)
    assert "261126-0007" in receipt.alimtalk_text and "11월 30일(월) 18:00" in receipt.alimtalk_text
    ask = t.render("case.info_requested", "ko", VALUES)
    assert "사진을 보내주세요" in ask.alimtalk_text and "답변" in ask.alimtalk_text
    assert "한국생산기술연구원" in t.render("case.referred", "ko", VALUES).alimtalk_text
    assert "한국생산기술연구원" in t.render("case.accepted", "en", VALUES).alimtalk_text
    resolved = t.render("case.resolved", "ko", VALUES)
    assert [b.mobile for b in resolved.buttons] == [VALUES["link"], VALUES["survey_link"]]
    handoff = t.render("case.handed_off", "ko", VALUES).alimtalk_text
    assert "기업마당 1357" in handoff and "1357" in handoff and "https://www.bizinfo.go.kr" in handoff
    delay = t.render("sla.breached", "en", VALUES).alimtalk_text
    assert "sorry" in delay.lower() and "12월 1일(화) 18:00" in delay


def test_templates_only_use_known_placeholders_when_parsed():
    import string

    raw = load_templates().raw
    texts = [raw["email_footer"][lang] for lang in ("ko", "en")]
    variables = set()
    for event in raw["events"].values():
        for lang in ("ko", "en"):
            texts += [event[lang][k] for k in ("email_subject", "email_body")]
            variables |= variables_of(event[lang]["alimtalk"])
            for button in event[lang]["buttons"]:
                variables |= variables_of(button["mobile"] + button["pc"])
    used = {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}
    assert used <= PLACEHOLDERS and variables <= PLACEHOLDERS
    assert not (used | variables) & SUBMITTER_TEXT


def test_every_alimtalk_code_is_unique_and_matches_its_approved_text_when_templates_load():
    """A changed wording is a new template code: Kakao approved the text, not the code."""
    import tomllib
    from pathlib import Path

    import sos1379

    approved = tomllib.loads((Path(sos1379.__file__).parent / "data" / "templates" /
                              "alimtalk_approved.toml").read_text(encoding="utf-8"))
    templates = load_templates()
    codes = [templates.events[e][lang]["alimtalk_code"] for e in templates.events for lang in ("ko", "en")]
    assert len(codes) == len(set(codes))
    for code, entry in templates.alimtalk_templates().items():
        assert code in approved, f"{code} is not approved: register it with Kakao and add it"
        assert approved[code] == approved_hash(entry["text"], entry["buttons"]), \
            f"{code}: the wording changed; an approved template cannot be edited, use a new code"


def test_unknown_placeholder_fails_loudly_when_a_template_has_a_typo():
    bad = parse_templates(_one_event("#{case_numbr}"))
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


def test_euckr_counts_hangul_as_two_bytes_when_sizing_a_text_message():
    assert euckr_bytes("가" * 45) == 90 and euckr_bytes("A" * 90) == 90
    assert euckr_bytes("[1379] 접수") == 11
    assert euckr_bytes("😀") == 2


def _one_event(text: str) -> str:
    return f'''
fallback_prefix = {{ ko = "" }}
[email_footer]
ko = ""
[events."case.submitted"]
urgent = true
[events."case.submitted".ko]
alimtalk_code = "X"
alimtalk = "{text}"
buttons = []
lms_subject = "[1379] 접수"
email_subject = "x"
email_body = "y"
'''


def test_text_goes_as_sms_when_it_fits_90_bytes_and_as_lms_with_subject_otherwise():
    short = parse_templates(_one_event("접수번호 #{case_number} 접수 완료")).render("case.submitted", "ko", VALUES)
    assert short.text_kind == "sms" and short.text_subject == "" and short.text_bytes <= 90
    long = parse_templates(_one_event("가" * 46)).render("case.submitted", "ko", VALUES)
    assert long.text_kind == "lms" and long.text_subject == "[1379] 접수" and long.text_bytes > 90
    full = load_templates().render("case.submitted", "ko", VALUES)
    assert full.text_kind == "lms" and "11월 30일(월) 18:00" in full.text  # never cut to a bare link


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

    from sos1379.messages import CaseMessage
    from tests.conftest import load_event

    records = load_event("sqs/notify_case_referred.json")["Records"]
    first, deferred = (CaseMessage.from_body(r["body"]) for r in records)
    assert first.type == deferred.type == "case.referred" and first.event_id == deferred.event_id
    assert first.deliver_after is None and deferred.deliver_after == "2026-11-26T23:00:00.000Z"
    assert "phone" not in records[0]["body"] and "email" not in records[0]["body"]
