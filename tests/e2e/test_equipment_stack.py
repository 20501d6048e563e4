"""Equipment on the running local stack (issue 17): the scheduled functions load ZEUS's equipment
and reservation calendars from the stand-in, ``GET /equipment?q=전자현미경`` answers with fees and
free slots, ten cases racing over real HTTP for one slot get exactly one 201 and nine 409s, and the
owning institute's confirmation reaches the SME's page and messages with a calendar file."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import requests

from tests.conftest import load_event
from tests.e2e.test_catalog_stack import cli
from tests.e2e.test_notify_stack import outbox, wait_for

RACERS = 10


def _microscopes(stack) -> list[dict]:
    resp = requests.get(f"{stack.api_url}/equipment?q={quote('전자현미경')}", timeout=60)
    assert resp.status_code == 200, resp.text
    return [i for i in resp.json()["items"] if i["available_slots"]]


def _synced(stack) -> list[dict]:
    for event in ("events/catalog/schedule_zeus.json", "events/catalog/schedule_zeus_calendars.json"):
        invoked = cli(stack, "invoke", "SyncCatalogFunction", "--event", event)
        assert invoked.returncode == 0, invoked.stderr[-2000:]
    # the API re-checks for a new index snapshot at most once a minute
    items = wait_for(lambda: _microscopes(stack), timeout=150, every=2)
    assert items, "no bookable microscope with free slots"
    return items


def _case(stack) -> dict:
    case = load_event("cases/weld_crack_ko.json")
    case["service_type"] = "equipment"
    case["contact"]["preferred_channels"] = ["sms", "email"]
    resp = requests.post(f"{stack.api_url}/cases", json=case, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _book(stack, receipt: dict, item: dict, slot: dict) -> requests.Response:
    return requests.post(f"{stack.api_url}/cases/{receipt['case_id']}/reservations",
                         headers={"X-Tracking-Token": receipt["tracking_token"]},
                         json={"equipment_id": item["equipment_id"], "slot_start": slot["start"],
                               "slot_end": slot["end"], "purpose": "파단면 관찰", "samples": 1}, timeout=60)


def test_search_race_and_confirmation_on_the_local_stack(stack):
    items = _synced(stack)
    item = items[0]
    assert "전자현미경" in item["name"] and item["fee"]["amount_krw"] > 0 and item["institute"]
    slot = item["available_slots"][-1]

    # ten cases race for one slot, over real HTTP, all released at once
    receipts = [_case(stack) for _ in range(RACERS)]
    start = threading.Barrier(RACERS)

    def race(receipt):
        start.wait()
        return _book(stack, receipt, item, slot)

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(race, receipts))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (RACERS - 1), [a.text[:200] for a in answers]
    winner_index = next(i for i, a in enumerate(answers) if a.status_code == 201)
    winner, reservation = receipts[winner_index], answers[winner_index].json()
    assert reservation["status"] == "pending"
    for loser in (a for a in answers if a.status_code == 409):
        assert loser.headers["Content-Type"] == "application/problem+json"
    offered = next(i for i in _microscopes(stack) if i["equipment_id"] == item["equipment_id"])
    assert slot not in offered["available_slots"]

    # the owning institute confirms (its local dev key); the SME's page and messages show it
    key = {"X-Api-Key": f"dev-{item['institute']}-key"}
    listed = requests.get(f"{stack.api_url}/institute/reservations?status=pending", headers=key, timeout=30).json()
    assert reservation["reservation_id"] in [r["reservation_id"] for r in listed["reservations"]]
    done = requests.post(f"{stack.api_url}/institute/reservations/{reservation['reservation_id']}/confirm",
                         headers=key, json={}, timeout=60)
    assert done.status_code == 200 and done.json()["status"] == "confirmed", done.text
    page = requests.get(f"{stack.api_url}/cases/{winner['case_id']}",
                        headers={"X-Tracking-Token": winner["tracking_token"]}, timeout=30).json()
    assert page["reservations"][0]["status"] == "confirmed"
    assert {"equipment.requested", "equipment.confirmed"} <= {e["type"] for e in page["history"]}

    def confirmation():
        rows = outbox(stack, winner["case_number"])
        talk = [r for r in rows if r.get("template_code") == "SOS1379_EQUIP_CONFIRMED_KO_01"]
        email = [r for r in rows if r["channel"] == "email" and "장비 예약이 확정" in r["subject"]]
        return (talk, email) if talk and email else None

    found = wait_for(confirmation, timeout=90)
    assert found, outbox(stack, winner["case_number"])
    (talk,), (email,) = found
    assert item["name"] in talk["text"] and winner["case_number"] in talk["text"]
    link = next(w for w in email["text"].split() if w.startswith("http") and ".ics" in w)
    ics = requests.get(link, timeout=30)
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text and "STATUS:CONFIRMED" in ics.text
