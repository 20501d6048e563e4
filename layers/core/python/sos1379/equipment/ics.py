"""The calendar file (RFC 5545, built with ``icalendar``) of an equipment reservation: one VEVENT
whose UID is stable per reservation and whose SEQUENCE grows with every answer, so a calendar that
imported the pending request updates in place when it is confirmed, moved or cancelled."""
from __future__ import annotations

from datetime import datetime, timezone

_STATUS = {"pending": "TENTATIVE", "proposed": "TENTATIVE", "confirmed": "CONFIRMED",
           "declined": "CANCELLED", "cancelled": "CANCELLED"}


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def reservation_ics(reservation: dict, case_number: str, institute_name: str, language: str = "ko") -> bytes:
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//SOS 1379//Equipment reservations//KO")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{reservation['reservation_id']}@sos1379.kr")
    # UTC ("Z"): a fixed +09:00 offset has no TZID, and icalendar would write it as floating time
    event.add("dtstamp", _utc(reservation.get("updated_at") or reservation["created_at"]))
    event.add("dtstart", _utc(reservation["slot_start"]))
    event.add("dtend", _utc(reservation["slot_end"]))
    event.add("sequence", int(reservation.get("sequence", 0)))
    event.add("status", _STATUS.get(reservation["status"], "TENTATIVE"))
    fee = reservation.get("fee") or {}
    if language == "en":
        summary = f"Equipment booking: {reservation.get('equipment_name_en') or reservation['equipment_name']}"
        unit = "per hour" if fee.get("unit") == "hour" else "per sample"
        description = (f"Case {case_number}, reservation {reservation['reservation_id']}\n{institute_name}\n"
                       f"Fee: KRW {fee.get('amount_krw', 0):,} {unit}\nStatus: {reservation['status']}")
    else:
        summary = f"장비 예약: {reservation['equipment_name']}"
        unit = "시간당" if fee.get("unit") == "hour" else "시료당"
        description = (f"접수번호 {case_number}, 예약번호 {reservation['reservation_id']}\n{institute_name}\n"
                       f"이용료: {unit} {fee.get('amount_krw', 0):,}원\n상태: {reservation['status']}")
    event.add("summary", summary)
    event.add("description", description)
    if reservation.get("location"):
        event.add("location", reservation["location"])
    cal.add_component(event)
    return cal.to_ical()
