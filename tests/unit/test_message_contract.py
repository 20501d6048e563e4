"""The queue message contracts (sos1379.events): what goes on the wire is byte-for-byte what the
service sent before the contracts became models (institutes' and partners' developers consume these
queues), and a body that does not fit is a typed error, never a half-read dict.

The expected strings were produced by the code before the change (``event_message`` and
``handoff_message``, commit 075f62a) for the same inputs."""
from __future__ import annotations

import json

import pytest

from sos1379.errors import MalformedMessage
from sos1379.events import Actor, CaseEvent, case_message_json, handoff_message_json
from sos1379.messages import CaseMessage, HandoffMessageV1, ScheduledRun

# history items as the stream relay reads them (after from_dynamo)
ITEMS = [
    {"PK": "CASE#c1", "SK": "EVT#1", "kind": "event", "event_id": "e-submitted", "case_id": "c-0001",
     "type": "case.submitted", "at": "2026-11-26T01:00:00.000Z", "actor": {"kind": "sme", "id": "-"},
     "data": {"channel": "web", "service_type": "tech_consult", "title": "용접 균열"},
     "publish_to": ["intake", "notify"]},
    {"kind": "event", "event_id": "e-referred", "case_id": "c-0001", "type": "case.referred",
     "at": "2026-11-26T01:00:01.001Z", "actor": {"kind": "system", "id": "router"},
     "data": {"institutes": [{"code": "KITECH", "name_ko": "한국생산기술연구원", "name_en": "KITECH"}],
              "reroute": False, "forced": False}, "publish_to": ["notify"]},
    {"kind": "event", "event_id": "e-route", "case_id": "c-0002", "type": "case.route_requested",
     "at": "2026-11-27T02:03:04.005Z", "actor": {"kind": "coordinator", "id": "c1"},
     "data": {"targets": ["KBSI"], "reason": "coordinator_override", "score": 0.75, "n": 3},
     "publish_to": ["intake"]},
    {"kind": "event", "event_id": "e-empty", "case_id": "c-0003", "type": "case.withdrawn",
     "at": "2026-11-27T02:03:04.005Z", "actor": {"kind": "sme", "id": "-"}, "publish_to": ["notify"]},
]

BEFORE = [
    '{"version": 1, "event_id": "e-submitted", "case_id": "c-0001", "type": "case.submitted", '
    '"at": "2026-11-26T01:00:00.000Z", "actor": {"kind": "sme", "id": "-"}, '
    '"data": {"channel": "web", "service_type": "tech_consult", "title": "용접 균열"}}',
    '{"version": 1, "event_id": "e-referred", "case_id": "c-0001", "type": "case.referred", '
    '"at": "2026-11-26T01:00:01.001Z", "actor": {"kind": "system", "id": "router"}, '
    '"data": {"institutes": [{"code": "KITECH", "name_ko": "한국생산기술연구원", "name_en": "KITECH"}], '
    '"reroute": false, "forced": false}}',
    '{"version": 1, "event_id": "e-route", "case_id": "c-0002", "type": "case.route_requested", '
    '"at": "2026-11-27T02:03:04.005Z", "actor": {"kind": "coordinator", "id": "c1"}, '
    '"data": {"targets": ["KBSI"], "reason": "coordinator_override", "score": 0.75, "n": 3}}',
    '{"version": 1, "event_id": "e-empty", "case_id": "c-0003", "type": "case.withdrawn", '
    '"at": "2026-11-27T02:03:04.005Z", "actor": {"kind": "sme", "id": "-"}, "data": {}}',
]


@pytest.mark.parametrize("item, before", list(zip(ITEMS, BEFORE)), ids=[i["type"] for i in ITEMS])
def test_relayed_case_message_is_byte_identical_to_the_earlier_wire_format_when_built_from_a_table_item(item, before):
    assert case_message_json(item) == before  # what the relay sends, without the model
    assert CaseMessage.of_event(item).to_json() == before
    assert CaseMessage.from_body(before).to_json() == before


def test_case_event_message_is_byte_identical_to_the_earlier_wire_format_when_built_from_an_event():
    event = CaseEvent(event_id="e-x", case_id="c-9", type="case.resolved", at="2026-11-26T01:00:00.000Z",
                      actor=Actor(kind="institute", id="KITECH"), data={"summary": "해결했습니다"})
    assert event.message().to_json() == (
        '{"version": 1, "event_id": "e-x", "case_id": "c-9", "type": "case.resolved", '
        '"at": "2026-11-26T01:00:00.000Z", "actor": {"kind": "institute", "id": "KITECH"}, '
        '"data": {"summary": "해결했습니다"}}')


def test_handoff_message_is_byte_identical_to_the_earlier_wire_format_and_fits_its_published_schema():
    import jsonschema

    from tests.conftest import ROOT

    event = {"event_id": "e-handoff", "case_id": "c-0004", "type": "case.handed_off", "at": "2026-11-26T05:00:00.000Z",
             "actor": {"kind": "system", "id": "router"},
             "data": {"partner": {"code": "CCEI", "region": "daejeon", "name_ko": "대전창조경제혁신센터"}}}
    body = HandoffMessageV1.of_event(event, "CCEI-DAEJEON").to_json()
    assert handoff_message_json(event, "CCEI-DAEJEON") == body  # what the relay sends, without the model
    assert body == ('{"version": 1, "type": "handoff.v1", "handoff_id": "e-handoff", "case_id": "c-0004", '
                    '"partner": "CCEI-DAEJEON", "handed_off_at": "2026-11-26T05:00:00.000Z", '
                    '"api_path": "/partner/handoffs/c-0004"}')
    schema = json.loads((ROOT / "events" / "schemas" / "handoff.v1.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(body))
    assert HandoffMessageV1.from_body(body) == HandoffMessageV1.of_event(event, "CCEI-DAEJEON")


def test_deferred_notify_copy_keeps_unknown_fields_and_adds_deliver_after_in_the_earlier_order():
    body = ('{"version": 1, "event_id": "e-referred", "case_id": "c-0001", "type": "case.referred", '
            '"at": "2026-11-26T01:00:01.001Z", "actor": {"kind": "system", "id": "router"}, '
            '"data": {"institutes": ["KITECH"]}, "extra_field": "kept"}')
    message = CaseMessage.from_body(body)
    deferred = message.model_copy(update={"deliver_after": "2026-11-26T23:00:00.000Z"})
    assert deferred.to_json() == (
        '{"version": 1, "event_id": "e-referred", "case_id": "c-0001", "type": "case.referred", '
        '"at": "2026-11-26T01:00:01.001Z", "actor": {"kind": "system", "id": "router"}, '
        '"data": {"institutes": ["KITECH"]}, "deliver_after": "2026-11-26T23:00:00.000Z", "extra_field": "kept"}')
    assert message.to_json() == body  # parse -> render is the identity on a v1 body


@pytest.mark.parametrize("body, problem", [
    ("not json at all", "(body):json_invalid"),
    ('{"version": 1, "case_id": "c", "type": "case.submitted", "at": "2026-11-26T01:00:00Z"}', "event_id:missing"),
    ('{"version": 2, "event_id": "e", "case_id": "c", "type": "case.submitted", "at": "x"}', "version:literal_error"),
    ('{"version": 1, "event_id": "e", "case_id": "c", "type": "t", "at": "x", "data": [1]}', "data:dict_type"),
    ('[]', "(body):model_type"),
])
def test_malformed_case_message_raises_a_typed_error_naming_fields_not_values_when_parsed(body, problem):
    with pytest.raises(MalformedMessage) as err:
        CaseMessage.from_body(body)
    assert problem in err.value.problems
    assert "x" not in str(err.value).replace("CaseMessage", "")  # no rejected value quoted


def test_scheduled_run_prefers_a_drills_now_over_the_schedules_time_when_both_are_given():
    run = ScheduledRun.from_event({"time": "2026-11-26T01:00:00Z", "now": "2026-12-01T00:00:00Z", "month": "2026-11"})
    assert run.instant.isoformat() == "2026-12-01T00:00:00+00:00"
    assert ScheduledRun.from_event(None).instant is None
    assert ScheduledRun.from_event({"time": "2026-11-26T01:00:00Z"}).instant.day == 26


def test_sample_notify_records_parse_and_render_back_to_the_same_bodies_when_loaded_from_events():
    from tests.conftest import EVENTS

    records = json.loads((EVENTS / "sqs" / "notify_case_referred.json").read_text(encoding="utf-8"))["Records"]
    messages = [CaseMessage.from_body(r["body"]) for r in records]
    assert [m.to_json() for m in messages] == [r["body"] for r in records]
    assert messages[0].deliver_after is None and messages[1].deliver_after == "2026-11-26T23:00:00.000Z"
