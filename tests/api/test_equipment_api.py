"""Equipment search and reservations through the whole Chalice app (chalice.test.Client) on
in-process moto, with the ZEUS stand-in (``infra.standins``) as the source. The clock is fixed:
Monday 2026-12-07 09:00 Seoul."""
from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest
from chalice.test import Client

from app import app
from sos1379 import intake
from sos1379.institutes import keys as institute_keys
from sos1379.catalog import service as catalog_service
from sos1379.equipment import service as svc
from sos1379.korea import SEOUL

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=SEOUL)
JSON = {"Content-Type": "application/json"}
MICROSCOPE = "전자현미경"


@pytest.fixture(scope="module")
def standins():
    from infra.standins import start_standins

    handle = start_standins("tiny", throttle_every=0, error_every=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def zeus_index(standins, tmp_path_factory):
    """The catalog index of the stand-in's equipment, as the catalog sync would publish it."""
    from sos1379.catalog.index import CatalogIndex, IndexBuilder, doc_of, index_tokens
    from sos1379.catalog.institutes import default_resolver
    from sos1379.catalog.sources import HttpSource, ZeusAdapter
    from sos1379.text import analyze

    page = ZeusAdapter(HttpSource(standins.urls["zeus"]), standins.keys["zeus"], default_resolver()).fetch(None, None)
    builder = IndexBuilder()
    for record in page.records:
        builder.upsert(doc_of(record, index_tokens(record, analyze)))
    directory = tmp_path_factory.mktemp("equipment-index")
    builder.write(directory)
    return CatalogIndex(directory, "equipment-test")


@pytest.fixture
def equipment(aws, standins, zeus_index, monkeypatch):
    """Stores, source and clock wired; calendars synced at NOW. Yields the stand-in handle."""
    monkeypatch.setenv("CATALOG_TABLE", aws.tables["CatalogTable"])
    monkeypatch.setenv("CATALOG_SOURCE_ZEUS_URL", standins.urls["zeus"])
    monkeypatch.setenv("CATALOG_SOURCE_ZEUS_KEY", standins.keys["zeus"])
    catalog_service.get_catalog_settings.cache_clear()
    svc.reset()
    ticks = itertools.count()  # a clock that moves a second per reading: history keeps its order
    monkeypatch.setattr(svc, "_clock", lambda: NOW.astimezone(timezone.utc) + timedelta(seconds=next(ticks)))
    standins.zeus_book.bookings.clear()
    standins.zeus_book.refs.clear()
    catalog_service.set_index(zeus_index)
    synced = svc.sync_availability(now=NOW)
    assert synced["calendars"] > 10
    yield standins
    catalog_service.set_index(None)
    svc.reset()
    catalog_service.get_catalog_settings.cache_clear()


@pytest.fixture
def client(equipment):
    with Client(app) as c:
        yield c


def call(client, method, path, body=None, headers=None):
    h = {**JSON, **(headers or {})}
    if method == "GET":
        return client.http.get(path, headers=h)
    return getattr(client.http, method.lower())(path, headers=h, body=json.dumps(body if body is not None else {},
                                                                               ensure_ascii=False))


def search(client, q: str = "주사전자현미경", **params) -> dict:
    from urllib.parse import urlencode

    resp = client.http.get("/equipment?" + urlencode({"q": q, **params}))
    assert resp.status_code == 200, resp.body
    return resp.json_body


def new_case(store, sample_case) -> dict:
    receipt, _ = intake.submit_case(store, {**sample_case, "service_type": "equipment"})
    return receipt


def book(client, receipt, item, slot, **extra):
    body = {"equipment_id": item["equipment_id"], "slot_start": slot["start"], "slot_end": slot["end"],
            "purpose": "파단면 SEM 관찰", "samples": 2, **extra}
    return call(client, "POST", f"/cases/{receipt['case_id']}/reservations", body,
                {"X-Tracking-Token": receipt["tracking_token"]})


def key_for(store, code: str) -> dict:
    return {"X-Api-Key": institute_keys.create_key(store, code)[0]}


def test_search_in_korean_returns_bookable_microscopes_with_fees_and_free_slots(client):
    body = search(client)
    microscopes = [i for i in body["items"] if MICROSCOPE in i["name"]]
    assert microscopes and body["items"][0] in microscopes  # best matches first
    for item in body["items"]:
        assert item["institute"] and item["location"]
        assert item["fee"]["unit"] in ("hour", "sample") and item["fee"]["amount_krw"] > 0
        assert item["available_slots"], item["equipment_id"]
        first = datetime.fromisoformat(item["available_slots"][0]["start"])
        assert first >= NOW + timedelta(hours=1)
        assert all(datetime.fromisoformat(s["start"]).astimezone(SEOUL).weekday() < 5 for s in item["available_slots"])


def test_search_filters_by_institute_and_region_and_refuses_bad_parameters(client):
    kbsi = search(client, institute="KBSI")["items"]
    assert kbsi and {i["institute"] for i in kbsi} == {"KBSI"}
    daejeon = search(client, region="대전")["items"]
    assert all(i["region"] == "daejeon" for i in daejeon)
    bad = client.http.get("/equipment?q=&page_size=99&institute=NOPE")
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    errors = {e["field"]: e for e in bad.json_body["errors"]}
    assert {"q", "page_size", "institute"} <= set(errors)
    assert errors["q"]["message_ko"] and errors["q"]["message_en"] and errors["q"]["code"]


def test_booking_is_201_pending_holds_the_slot_and_reaches_the_source(client, store, sample_case, equipment):
    item = search(client)["items"][0]
    slot = item["available_slots"][0]
    receipt = new_case(store, sample_case)
    resp = book(client, receipt, item, slot)
    assert resp.status_code == 201, resp.body
    body = resp.json_body
    assert body["status"] == "pending" and body["equipment_id"] == item["equipment_id"]
    assert body["slot_start"] == slot["start"] and body["institute"] == item["institute"]
    assert resp.headers["Location"].endswith(body["reservation_id"])
    # the slot is no longer offered, and ZEUS holds our request
    again = next(i for i in search(client)["items"] if i["equipment_id"] == item["equipment_id"])
    assert slot not in again["available_slots"]
    [booking] = equipment.zeus_book.bookings.values()
    assert booking["equipId"] == item["equipment_id"] and booking["status"] == "REQUESTED"
    assert booking["requestRef"] == body["reservation_id"]
    history = [e["type"] for e in store.history(receipt["case_id"])]
    assert "equipment.requested" in history
    view = call(client, "GET", f"/cases/{receipt['case_id']}", headers={"X-Tracking-Token": receipt["tracking_token"]})
    assert [r["reservation_id"] for r in view.json_body["reservations"]] == [body["reservation_id"]]


def test_second_booking_of_the_same_or_an_overlapping_slot_is_409(client, store, sample_case):
    item = search(client)["items"][0]
    slot = item["available_slots"][0]
    first = book(client, new_case(store, sample_case), item, slot)
    assert first.status_code == 201
    same = book(client, new_case(store, sample_case), item, slot)
    assert same.status_code == 409 and same.headers["Content-Type"] == "application/problem+json"
    assert same.json_body["title_ko"]
    start = datetime.fromisoformat(slot["start"])
    overlapping = {"start": (start - timedelta(hours=1)).isoformat(), "end": slot["end"]}
    assert book(client, new_case(store, sample_case), item, overlapping).status_code in (409, 422)


def test_slot_taken_directly_at_zeus_after_the_sync_is_409_by_the_booking_time_recheck(client, store, sample_case,
                                                                                     equipment):
    item = search(client)["items"][0]
    slot = item["available_slots"][0]
    equipment.zeus_book.bookings["R-walkin"] = {
        "reservationNo": "R-walkin", "equipId": item["equipment_id"], "status": "APPROVED", "requestRef": "",
        "start": datetime.fromisoformat(slot["start"]).strftime("%Y%m%d%H%M"),
        "end": datetime.fromisoformat(slot["end"]).strftime("%Y%m%d%H%M")}
    resp = book(client, new_case(store, sample_case), item, slot)
    assert resp.status_code == 409
    assert len(equipment.zeus_book.bookings) == 1  # nothing forwarded


def test_bad_booking_input_is_422_with_every_field_in_both_languages(client, store, sample_case):
    receipt = new_case(store, sample_case)
    item = search(client)["items"][0]
    start = datetime.fromisoformat(item["available_slots"][0]["start"])
    cases = [
        ({"equipment_id": "", "slot_start": "soon", "slot_end": "later", "purpose": "", "samples": 0},
         {"equipment_id", "slot_start", "slot_end", "purpose", "samples"}),
        ({"slot_start": (start + timedelta(minutes=30)).isoformat(), "slot_end": start.isoformat()},
         {"slot_start", "slot_end"}),
        ({"slot_start": (NOW - timedelta(days=1)).isoformat(), "slot_end": (NOW - timedelta(hours=23)).isoformat()},
         {"slot_start"}),
        ({"equipment_id": "Z19990000000"}, {"equipment_id"}),
        ({"slot_start": start.replace(hour=7).isoformat(), "slot_end": start.replace(hour=8).isoformat()},
         {"slot_start"}),
        ({"slot_start": start.replace(tzinfo=None).isoformat()}, {"slot_start"}),
    ]
    for overrides, fields in cases:
        body = {"equipment_id": item["equipment_id"], "slot_start": start.isoformat(),
                "slot_end": (start + timedelta(hours=1)).isoformat(), "purpose": "시편 분석", "samples": 1, **overrides}
        resp = call(client, "POST", f"/cases/{receipt['case_id']}/reservations", body,
                    {"X-Tracking-Token": receipt["tracking_token"]})
        assert resp.status_code == 422, (overrides, resp.body)
        assert resp.headers["Content-Type"] == "application/problem+json"
        errors = resp.json_body["errors"]
        assert fields <= {e["field"] for e in errors}, (overrides, errors)
        assert all(e["message_ko"] and e["message_en"] and e["code"] for e in errors)
    assert store.case_reservations(receipt["case_id"]) == []


def test_booking_without_the_case_token_is_404_like_an_unknown_case(client, store, sample_case):
    receipt = new_case(store, sample_case)
    item = search(client)["items"][0]
    for token in ("", "wrong"):
        resp = book(client, {**receipt, "tracking_token": token}, item, item["available_slots"][0])
        assert resp.status_code == 404


def test_institute_confirms_and_the_sme_sees_it_with_a_calendar_file(client, store, sample_case, equipment):
    item = search(client)["items"][0]
    receipt = new_case(store, sample_case)
    rid = book(client, receipt, item, item["available_slots"][0]).json_body["reservation_id"]
    owner = key_for(store, item["institute"])
    pending = call(client, "GET", "/institute/reservations?status=pending", headers=owner).json_body["reservations"]
    assert [r["reservation_id"] for r in pending] == [rid] and pending[0]["case_number"] == receipt["case_number"]
    other = key_for(store, "KITECH" if item["institute"] != "KITECH" else "KIMS")
    assert call(client, "POST", f"/institute/reservations/{rid}/confirm", headers=other).status_code == 404
    assert call(client, "POST", f"/institute/reservations/{rid}/confirm").status_code == 401
    done = call(client, "POST", f"/institute/reservations/{rid}/confirm", headers=owner)
    assert done.status_code == 200 and done.json_body["status"] == "confirmed"
    assert call(client, "POST", f"/institute/reservations/{rid}/confirm", headers=owner).status_code == 409
    [booking] = equipment.zeus_book.bookings.values()
    assert booking["status"] == "APPROVED"
    view = call(client, "GET", f"/cases/{receipt['case_id']}",
                headers={"X-Tracking-Token": receipt["tracking_token"]}).json_body
    assert view["reservations"][0]["status"] == "confirmed"
    timeline = [e for e in view["history"] if e["type"].startswith("equipment.")]
    assert [e["type"] for e in timeline] == ["equipment.requested", "equipment.confirmed"]
    assert timeline[-1]["data"]["reservation"]["equipment_name"] == item["name"]
    ics = client.http.get(f"/cases/{receipt['case_id']}/reservations/{rid}/calendar.ics?token={receipt['tracking_token']}")
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    from icalendar import Calendar

    [event] = Calendar.from_ical(ics.body).walk("VEVENT")
    assert str(event["STATUS"]) == "CONFIRMED" and str(event["UID"]).startswith(rid)
    assert event.decoded("DTSTART") == datetime.fromisoformat(item["available_slots"][0]["start"])
    assert item["name"] in str(event["SUMMARY"])
    assert client.http.get(f"/cases/{receipt['case_id']}/reservations/{rid}/calendar.ics?token=x").status_code == 404


def test_proposal_moves_the_hold_and_the_sme_accepts_it(client, store, sample_case, equipment):
    item = search(client)["items"][0]
    first, later = item["available_slots"][3], item["available_slots"][-1]  # well after the lead time
    receipt = new_case(store, sample_case)
    sme = {"X-Tracking-Token": receipt["tracking_token"]}
    rid = book(client, receipt, item, first).json_body["reservation_id"]
    owner = key_for(store, item["institute"])
    bad = call(client, "POST", f"/institute/reservations/{rid}/propose", {"slot_start": "x"}, owner)
    assert bad.status_code == 422
    moved = call(client, "POST", f"/institute/reservations/{rid}/propose",
                 {"slot_start": later["start"], "slot_end": later["end"], "note": "오후가 가능합니다"}, owner)
    assert moved.status_code == 200 and moved.json_body["status"] == "proposed"
    assert moved.json_body["previous_slot"] == {"start": first["start"], "end": first["end"]}
    offered = next(i for i in search(client)["items"] if i["equipment_id"] == item["equipment_id"])
    assert first in offered["available_slots"] and later not in offered["available_slots"]
    accepted = call(client, "POST", f"/cases/{receipt['case_id']}/reservations/{rid}/accept", headers=sme)
    assert accepted.status_code == 200 and accepted.json_body["status"] == "confirmed"
    assert accepted.json_body["slot_start"] == later["start"]
    approved = [b for b in equipment.zeus_book.bookings.values() if b["status"] == "APPROVED"]
    assert len(approved) == 1 and approved[0]["start"] == datetime.fromisoformat(later["start"]).strftime("%Y%m%d%H%M")


def test_decline_and_cancellation_by_either_side_free_the_slot(client, store, sample_case):
    item = search(client)["items"][0]
    slot = item["available_slots"][3]  # still offered after the ticking clock's lead time
    owner = key_for(store, item["institute"])
    for how in ("decline", "institute-cancel", "sme-cancel"):
        receipt = new_case(store, sample_case)
        resp = book(client, receipt, item, slot)
        assert resp.status_code == 201, (how, resp.body)
        rid = resp.json_body["reservation_id"]
        if how == "decline":
            out = call(client, "POST", f"/institute/reservations/{rid}/decline", {"reason": "점검 기간"}, owner)
            assert out.json_body["status"] == "declined"
        elif how == "institute-cancel":
            assert call(client, "POST", f"/institute/reservations/{rid}/confirm", headers=owner).status_code == 200
            out = call(client, "POST", f"/institute/reservations/{rid}/cancel", {}, owner)
            assert out.json_body["status"] == "cancelled"
        else:
            path = f"/cases/{receipt['case_id']}/reservations/{rid}/cancel"
            out = call(client, "POST", path, {"reason": "일정 변경"}, {"X-Tracking-Token": receipt["tracking_token"]})
            assert out.json_body["status"] == "cancelled"
            again = call(client, "POST", path, {}, {"X-Tracking-Token": receipt["tracking_token"]})
            assert again.status_code == 200 and again.json_body["status"] == "cancelled"
        types = [e["type"] for e in store.history(receipt["case_id"])]
        assert types[-1] in ("equipment.declined", "equipment.cancelled"), how
    offered = next(i for i in search(client)["items"] if i["equipment_id"] == item["equipment_id"])
    assert slot in offered["available_slots"]


def test_openapi_documents_the_equipment_routes(client):
    doc = client.http.get("/openapi.json").json_body
    assert {"/equipment", "/cases/{case_id}/reservations", "/institute/reservations/{reservation_id}/confirm"} <= set(
        doc["paths"])
    assert "ReservationRequest" in doc["components"]["schemas"]


def test_reservation_routes_are_rate_limited_like_other_token_lookups(client, store, sample_case, monkeypatch):
    from sos1379 import ratelimit
    from sos1379.settings import get_settings

    monkeypatch.setenv("SOS1379_RATE_LIMITS", "lookup=2/60")
    get_settings.cache_clear()  # settings are read once per process
    monkeypatch.setattr(ratelimit, "_clock", lambda: 1_800_000_000.0)
    receipt = new_case(store, sample_case)
    path = f"/cases/{receipt['case_id']}/reservations"
    answers = [call(client, "POST", path, {}, {"X-Tracking-Token": receipt["tracking_token"]}) for _ in range(3)]
    assert [a.status_code for a in answers] == [422, 422, 429]
    assert answers[-1].headers["Retry-After"] and answers[-1].headers["Content-Type"] == "application/problem+json"
