"""Free-slot arithmetic of sos1379.equipment.availability: opening hours and days, Korean public
holidays, the source's bookings, our hold items and the lead time. Pure, fixed clock."""
from __future__ import annotations

from datetime import datetime, timedelta

from sos1379.equipment import availability
from sos1379.korea import SEOUL

NOW = datetime(2026, 12, 21, 8, 0, tzinfo=SEOUL)  # Monday; Friday 25 December is a public holiday
CALENDAR = {"equipment_id": "Z1", "name": "주사전자현미경", "open_hour": 9, "close_hour": 18, "open_days": "12345",
            "window_last": "2027-01-17", "booked": [["2026-12-22T10:00:00+09:00", "2026-12-22T12:00:00+09:00"]]}


def kst(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SEOUL)


def starts(slots) -> set[datetime]:
    return {datetime.fromisoformat(s["start"]) for s in slots}


def test_free_slots_follow_opening_hours_and_skip_weekends_and_public_holidays():
    slots = availability.free_slots(CALENDAR, set(), NOW, days=7, limit=500)
    days = {s.date() for s in starts(slots)}
    assert kst(24, 9).date() in days and kst(26, 9).date() not in days  # Saturday
    assert kst(25, 9).date() not in days  # Christmas: a Korean public holiday
    assert all(9 <= s.hour < 18 for s in starts(slots))
    assert all(datetime.fromisoformat(s["end"]) - datetime.fromisoformat(s["start"]) == timedelta(hours=1)
               for s in slots)


def test_source_bookings_our_holds_and_the_lead_time_are_not_offered():
    held = {availability.hour_key(kst(23, 15))}
    offered = starts(availability.free_slots(CALENDAR, held, NOW, days=7, limit=500))
    assert kst(22, 10) not in offered and kst(22, 11) not in offered and kst(22, 12) in offered  # booked at ZEUS
    assert kst(23, 15) not in offered and kst(23, 14) in offered  # held by one of our reservations
    assert kst(21, 9) not in offered and kst(21, 10) in offered  # 08:00 now: the offer lead is two hours


def test_slots_are_listed_in_time_order_up_to_the_limit():
    slots = availability.free_slots(CALENDAR, set(), NOW, days=14, limit=5)
    assert len(slots) == 5 and [s["start"] for s in slots] == sorted(s["start"] for s in slots)


def test_is_open_refuses_slots_across_closing_time_weekends_holidays_and_beyond_the_window():
    assert availability.is_open(CALENDAR, kst(22, 9), kst(22, 17))
    assert not availability.is_open(CALENDAR, kst(22, 17), kst(22, 19))
    assert not availability.is_open(CALENDAR, kst(26, 10), kst(26, 11))
    assert not availability.is_open(CALENDAR, kst(25, 10), kst(25, 11))
    assert not availability.is_open(CALENDAR, kst(18, 10, month=1).replace(year=2027), kst(18, 11, month=1).replace(year=2027))


def test_hold_hours_are_utc_hours_covering_the_slot():
    assert availability.hours_between(kst(22, 9), kst(22, 12)) == ["2026-12-22T00", "2026-12-22T01", "2026-12-22T02"]
