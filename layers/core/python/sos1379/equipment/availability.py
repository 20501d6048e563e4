"""Equipment availability: the scheduled sync of ZEUS reservation calendars into CatalogTable, and
the free hourly slots of an instrument (opening hours, minus the source's bookings, minus the hours
our own live reservations hold).

The sync runs every 10 minutes (``SyncCatalogFunction`` with ``{"source": "zeus", "part":
"calendars"}``): the source's calendar is at most that stale in search answers, and a booking
re-checks the source itself before it is written, so a stale calendar can cost a 409, never a
double booking. Each run replaces every calendar of the window (today + ``WINDOW_DAYS``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .. import korea

WINDOW_DAYS = 28       # how far ahead calendars are synced and bookings accepted
SEARCH_DAYS = 14       # how far ahead search answers list free slots
MAX_SLOTS = 40         # free slots listed per instrument in a search answer
MIN_LEAD = timedelta(hours=1)  # the earliest bookable start after now
OFFER_LEAD = timedelta(hours=2)  # search offers a little later, so an offered slot stays bookable a while
SLOT = timedelta(hours=1)


def hour_key(moment: datetime) -> str:
    """The UTC hour a hold item is keyed on (``2026-12-07T01``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H")


def hours_between(start: datetime, end: datetime) -> list[str]:
    out, cursor = [], start
    while cursor < end:
        out.append(hour_key(cursor))
        cursor += SLOT
    return out


def calendar_of(source_calendar, resolver) -> dict[str, Any]:
    """What CatalogTable keeps of one instrument's calendar (the search and booking view)."""
    from ..catalog.institutes import region_of

    return {"equipment_id": source_calendar.equipment_id, "name": source_calendar.name,
            "name_en": source_calendar.name_en, "institution": source_calendar.institution,
            "institute": resolver.resolve(source_calendar.institution) if source_calendar.institution else None,
            "location": source_calendar.location, "region": region_of(source_calendar.location),
            "fee": {"unit": source_calendar.fee_unit, "amount_krw": source_calendar.fee_krw},
            "open_hour": source_calendar.open_hour, "close_hour": source_calendar.close_hour,
            "open_days": source_calendar.open_days, "booked": [list(b) for b in source_calendar.booked]}


@dataclass
class CalendarSyncResult:
    calendars: int
    pages: int
    window_first: str
    window_last: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def sync_calendars(adapter, store, resolver, now: datetime, days: int = WINDOW_DAYS) -> CalendarSyncResult:
    """Fetch every page of the source's calendars for the window and store them. Safe to run
    twice (each run overwrites the same items)."""
    first = now.astimezone(korea.SEOUL).date()
    last = first + timedelta(days=days - 1)
    page, pages, written = 1, 0, 0
    while True:
        calendars, total = adapter.calendars(first, last, page)
        pages += 1
        window = {"window_first": first.isoformat(), "window_last": last.isoformat()}
        written += store.put_calendars([{**calendar_of(c, resolver), **window} for c in calendars],
                                       synced_at=now.astimezone(timezone.utc).isoformat())
        if not calendars or page * adapter.page_size >= total:
            break
        page += 1
    return CalendarSyncResult(written, pages, first.isoformat(), last.isoformat())


def _overlaps(start: datetime, end: datetime, blocks: list) -> bool:
    for a, b in blocks:
        if datetime.fromisoformat(a) < end and start < datetime.fromisoformat(b):
            return True
    return False


def is_open(calendar: dict, start: datetime, end: datetime) -> bool:
    """Whether [start, end) lies inside one opening day's hours (a business day, in the window)."""
    local_start, local_end = start.astimezone(korea.SEOUL), end.astimezone(korea.SEOUL)
    day = local_start.date()
    if local_end.date() != day and not (local_end.date() == day + timedelta(days=1) and local_end.hour == 0
                                        and local_end.minute == 0):
        return False
    if str(day.isoweekday()) not in calendar.get("open_days", "12345") or not korea.is_business_day(day):
        return False
    last = calendar.get("window_last")
    if last and day > date.fromisoformat(last):
        return False
    opens = datetime.combine(day, datetime.min.time(), korea.SEOUL) + timedelta(hours=int(calendar["open_hour"]))
    closes = datetime.combine(day, datetime.min.time(), korea.SEOUL) + timedelta(hours=int(calendar["close_hour"]))
    return opens <= local_start and local_end <= closes


def booked_at_source(calendar: dict, start: datetime, end: datetime) -> bool:
    return _overlaps(start, end, calendar.get("booked") or [])


def free_slots(calendar: dict, held: set[str], now: datetime, days: int = SEARCH_DAYS,
               limit: int = MAX_SLOTS) -> list[dict[str, str]]:
    """Free one-hour slots from ``now + OFFER_LEAD`` over the next ``days`` days, in time order."""
    earliest = now + OFFER_LEAD
    today = now.astimezone(korea.SEOUL).date()
    out: list[dict[str, str]] = []
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        midnight = datetime.combine(day, datetime.min.time(), korea.SEOUL)
        for hour in range(int(calendar["open_hour"]), int(calendar["close_hour"])):
            start = midnight + timedelta(hours=hour)
            end = start + SLOT
            if start < earliest or not is_open(calendar, start, end):
                continue
            if hour_key(start) in held or booked_at_source(calendar, start, end):
                continue
            out.append({"start": start.isoformat(), "end": end.isoformat()})
            if len(out) >= limit:
                return out
    return out
