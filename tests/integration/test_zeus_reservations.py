"""The ZEUS reservation adapter against the ZEUS stand-in: calendars with fee tables, the clash
check, booking requests idempotent on the caller's reference, conflicts and the owner's answers."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from sos1379.catalog.sources import HttpSource
from sos1379.catalog.sources.zeus_reservations import SlotTakenAtSource, UnknownAtSource, ZeusReservations
from sos1379.korea import SEOUL


@pytest.fixture(scope="module")
def zeus():
    from infra.standins import start_standins

    handle = start_standins("tiny", throttle_every=0, error_every=0)
    yield handle, ZeusReservations(HttpSource(handle.urls["zeus"], sleep=lambda s: None), handle.keys["zeus"],
                                   page_size=20)
    handle.stop()


def _free_hour(adapter, calendar) -> tuple[datetime, datetime]:
    day = date(2026, 12, 8)  # a Tuesday
    for hour in range(calendar.open_hour, calendar.close_hour):
        start = datetime(day.year, day.month, day.day, hour, tzinfo=SEOUL)
        if adapter.is_free(calendar.equipment_id, start, start + timedelta(hours=1)):
            return start, start + timedelta(hours=1)
    raise AssertionError("no free hour")


def test_calendars_page_through_bookable_equipment_with_fees_and_bookings(zeus):
    _, adapter = zeus
    first, total = adapter.calendars(date(2026, 12, 7), date(2026, 12, 11), 1)
    second, _ = adapter.calendars(date(2026, 12, 7), date(2026, 12, 11), 2)
    assert total > 20 and len(first) == 20
    assert not {c.equipment_id for c in first} & {c.equipment_id for c in second}
    cal = first[0]
    assert cal.fee_unit in ("hour", "sample") and cal.fee_krw > 0 and cal.name and cal.institution
    assert (cal.open_hour, cal.close_hour) == (9, 18) and cal.booked
    assert all(datetime.fromisoformat(a) < datetime.fromisoformat(b) for a, b in cal.booked)


def test_request_is_idempotent_on_the_reference_and_a_clash_is_refused(zeus):
    handle, adapter = zeus
    cal = adapter.calendars(date(2026, 12, 7), date(2026, 12, 11), 1)[0][0]
    start, end = _free_hour(adapter, cal)
    number = adapter.request(cal.equipment_id, start, end, "R-first", 2)
    assert adapter.request(cal.equipment_id, start, end, "R-first", 2) == number  # a retry books nothing new
    assert not adapter.is_free(cal.equipment_id, start, end)
    with pytest.raises(SlotTakenAtSource):
        adapter.request(cal.equipment_id, start, end, "R-second", 1)
    assert adapter.approve(number) == "APPROVED"
    assert adapter.cancel(number) == "CANCELLED"
    assert adapter.is_free(cal.equipment_id, start, end)
    assert sum(1 for b in handle.zeus_book.bookings.values() if b["requestRef"] == "R-first") == 1


def test_unknown_equipment_is_its_own_error(zeus):
    _, adapter = zeus
    start = datetime(2026, 12, 8, 10, tzinfo=SEOUL)
    with pytest.raises(UnknownAtSource):
        adapter.is_free("Z19990000000", start, start + timedelta(hours=1))
