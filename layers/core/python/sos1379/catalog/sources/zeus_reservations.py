"""The reservation side of ZEUS (NFEC): calendars with fee tables, the clash check, booking
requests and the owner's answers. Same data.go.kr XML envelope as the equipment listing
(``header/resultCode``), times as Seoul wall-clock ``YYYYMMDDHHMM``.

| call | ZEUS | our use |
|------|------|---------|
| ``calendars(first, last, page)`` | ``GET /openapi/reservations/calendar`` | scheduled availability sync |
| ``is_free(id, start, end)`` | ``GET /openapi/reservations/check`` | re-check at booking time |
| ``request(id, start, end, ref, samples)`` | ``POST /openapi/reservations`` | forward a booking (idempotent on ``ref``) |
| ``approve(no)`` / ``cancel(no)`` | ``POST /openapi/reservations/{approve,cancel}`` | the institute's answer |

resultCode 41 (time conflict) is :class:`SlotTakenAtSource`; 22 is throttling (retried); anything
else not 00 is a permanent refusal.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime

from .base import HttpSource, SourceRejected, SourceThrottled, SourceUnavailable, int_or_none, text_of

_CONFLICT = "41"
_NO_DATA = "03"


class SlotTakenAtSource(Exception):
    """ZEUS already has a booking that overlaps the requested time."""


class UnknownAtSource(Exception):
    """ZEUS does not know this instrument (or it is not open to outside users)."""


@dataclass(frozen=True)
class SourceCalendar:
    """One bookable instrument as the reservation calendar describes it."""

    equipment_id: str
    name: str
    name_en: str | None
    institution: str | None
    location: str | None
    fee_unit: str  # "hour" | "sample"
    fee_krw: int
    open_hour: int
    close_hour: int
    open_days: str  # ISO weekdays, "12345" = Monday to Friday
    booked: list[tuple[str, str]] = field(default_factory=list)  # ISO 8601 (+09:00) start, end


def to_compact(value: datetime) -> str:
    from ...korea import SEOUL

    return value.astimezone(SEOUL).strftime("%Y%m%d%H%M")


def from_compact(value: str) -> datetime:
    from ...korea import SEOUL

    return datetime.strptime(value, "%Y%m%d%H%M").replace(tzinfo=SEOUL)


class ZeusReservations:
    base = "/openapi/reservations"

    def __init__(self, http: HttpSource, service_key: str, page_size: int = 200) -> None:
        self.http, self.key, self.page_size = http, service_key, page_size

    # -- reads ---------------------------------------------------------------------------------
    def calendars(self, first: date, last: date, page: int = 1) -> tuple[list[SourceCalendar], int]:
        """One page of calendars between two local dates: (calendars, total count)."""
        params = {"serviceKey": self.key, "pageNo": str(page), "numOfRows": str(self.page_size),
                  "fromDate": first.strftime("%Y%m%d"), "toDate": last.strftime("%Y%m%d")}
        root = self.http.call(lambda: self._envelope(self.http.get(f"{self.base}/calendar", params)))
        out = []
        for item in root.iterfind("body/items/item"):
            unit = (text_of(item, "feeUnit") or "HOUR").upper()
            out.append(SourceCalendar(
                equipment_id=text_of(item, "equipId") or "", name=text_of(item, "korNm") or text_of(item, "engNm") or "",
                name_en=text_of(item, "engNm"), institution=text_of(item, "orgNm"),
                location=text_of(item, "installLocation"), fee_unit="sample" if unit == "SAMPLE" else "hour",
                fee_krw=int_or_none(text_of(item, "fee")) or 0,
                open_hour=int((text_of(item, "openTime") or "0900")[:2]),
                close_hour=int((text_of(item, "closeTime") or "1800")[:2]),
                open_days=text_of(item, "openDays") or "12345",
                booked=[(from_compact(text_of(s, "startDt")).isoformat(), from_compact(text_of(s, "endDt")).isoformat())
                        for s in item.iterfind("booked/slot") if text_of(s, "startDt") and text_of(s, "endDt")]))
        return out, int_or_none(text_of(root, "body/totalCount")) or 0

    def is_free(self, equipment_id: str, start: datetime, end: datetime) -> bool:
        params = {"serviceKey": self.key, "equipId": equipment_id, "startDt": to_compact(start),
                  "endDt": to_compact(end)}
        root = self.http.call(lambda: self._envelope(self.http.get(f"{self.base}/check", params)))
        return (text_of(root, "body/available") or "N") == "Y"

    # -- writes --------------------------------------------------------------------------------
    def request(self, equipment_id: str, start: datetime, end: datetime, ref: str, samples: int) -> str:
        """Forward a booking; returns ZEUS's reservation number. Retrying with the same ``ref``
        returns the same number (ZEUS keeps one booking per request reference)."""
        params = {"serviceKey": self.key, "equipId": equipment_id, "startDt": to_compact(start),
                  "endDt": to_compact(end), "requestRef": ref, "sampleCnt": str(samples)}
        root = self.http.call(lambda: self._envelope(self.http.post(self.base, params)))
        return text_of(root, "body/reservationNo") or ""

    def approve(self, number: str) -> str:
        return self._answer("approve", number)

    def cancel(self, number: str) -> str:
        return self._answer("cancel", number)

    def _answer(self, action: str, number: str) -> str:
        params = {"serviceKey": self.key, "reservationNo": number}
        root = self.http.call(lambda: self._envelope(self.http.post(f"{self.base}/{action}", params)))
        return text_of(root, "body/status") or ""

    @staticmethod
    def _envelope(body: bytes):
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SourceUnavailable("unreadable ZEUS answer") from exc
        code = text_of(root, "header/resultCode")
        if code == "00":
            return root
        if code == "22":
            raise SourceThrottled("ZEUS 22")
        if code == _CONFLICT:
            raise SlotTakenAtSource()
        if code == _NO_DATA:
            raise UnknownAtSource()
        raise SourceRejected(f"ZEUS {code}: {text_of(root, 'header/resultMsg') or ''}")
