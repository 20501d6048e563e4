"""Equipment search and reservations from a case: what the API (and the console) call.

Reservation statuses and who moves them::

    pending ──confirm (institute)──► confirmed ──cancel (either side)──► cancelled
       │ └──propose (institute)──► proposed ──accept (SME)──► confirmed
       │                               └──cancel (either side) / decline (institute)──► ...
       └──decline (institute)──► declined          pending ──cancel (either side)──► cancelled

Booking (``reserve``) checks the input (422), the case (open, token), the synced calendar (opening
hours, the source's own bookings), then asks ZEUS itself whether the time is still free (the
re-check at booking time), then writes hold items for every hour with the reservation in one
conditional transaction (``CaseStore.create_reservation``): of any number of concurrent requests for
overlapping time exactly one wins, the rest get ``SlotTaken`` (409). Only then is the booking
request forwarded to ZEUS (idempotent on our reservation id); if ZEUS took the time meanwhile, our
reservation is cancelled and the hours released (409 as well).

Every step appends an ``equipment.*`` event to the case history (the outbox): the SME is notified
of confirmations, proposals, declines and cancellations through the notification pipeline, with a
link to the reservation's calendar file (``ics``)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .. import korea
from ..errors import Conflict, FieldError, NotFound, SlotTaken, TransientError, ValidationFailed
from ..events import Actor, CaseEvent, iso, utcnow
from ..lifecycle import OPEN_STATUSES, EventType
from ..models import Text, parse_model
from . import availability

log = logging.getLogger("sos1379.equipment")

MAX_HOURS = 8  # one reservation covers at most one working day
ACTIVE = ("pending", "proposed", "confirmed")
HOLD_DAYS_AFTER = 30  # hold items expire (TTL) a month after their slot


class ReservationInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    equipment_id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    slot_start: AwareDatetime
    slot_end: AwareDatetime
    purpose: Text(2, 500, multiline=True)
    samples: int = Field(default=1, ge=1, le=100)


class ProposalInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    slot_start: AwareDatetime
    slot_end: AwareDatetime
    note: Text(0, 500, multiline=True) | None = None


class ReasonInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    reason: Text(0, 500, multiline=True) | None = None


class EquipmentNotFound(NotFound):
    title_en = "No such reservation"
    title_ko = "예약을 찾을 수 없습니다"


@dataclass
class EquipmentContext:
    """The collaborators: the case store, the catalog store (calendars), the ZEUS reservation
    adapter (None: no source configured, bookings are refused) and the clock."""

    cases: Any
    catalog: Any
    source: Any
    clock: Callable[[], datetime] = utcnow


@lru_cache(maxsize=1)
def _catalog_store():
    from ..catalog.service import _store, get_catalog_settings

    return _store(get_catalog_settings())


@lru_cache(maxsize=1)
def _source():
    from ..catalog.service import get_catalog_settings, source_keys
    from ..catalog.sources import HttpSource
    from ..catalog.sources.zeus_reservations import ZeusReservations

    settings = get_catalog_settings()
    url = settings.source_urls.get("zeus")
    if not url:
        return None
    # an API request waits for this: few, short retries (the sync function keeps the long ones)
    return ZeusReservations(HttpSource(url, timeout=5.0, max_attempts=3, base_delay=0.2, max_delay=1.0),
                            settings.zeus_key or source_keys().get("zeus_key", ""))


_clock: Callable[[], datetime] = utcnow  # tests replace it (no wall-clock dependence)


def default_context(case_store) -> EquipmentContext:
    return EquipmentContext(cases=case_store, catalog=_catalog_store(), source=_source(), clock=lambda: _clock())


def reset() -> None:
    """Forget the cached stores and adapter (tests, a changed environment)."""
    _catalog_store.cache_clear()
    _source.cache_clear()


# --------------------------------------------------------------------------- availability sync
def sync_availability(now: datetime | None = None) -> dict:
    """The scheduled job: every bookable instrument's calendar for the coming weeks from ZEUS."""
    from ..catalog.institutes import default_resolver
    from ..catalog.service import _store, build_adapter, get_catalog_settings
    from ..catalog.sources.zeus_reservations import ZeusReservations

    settings = get_catalog_settings()
    zeus = build_adapter("zeus", settings)  # the listing's connection, retries and key
    adapter = ZeusReservations(zeus.http, zeus.key)
    result = availability.sync_calendars(adapter, _store(settings), default_resolver(), now or utcnow())
    log.info("equipment calendars synced", extra=result.as_dict())
    return result.as_dict()


# --------------------------------------------------------------------------- search
def search(ctx: EquipmentContext, params: Mapping[str, str] | None) -> dict:
    """``GET /equipment``: catalog ranking (Korean-aware), restricted to bookable instruments,
    with fee and free slots for the coming weeks."""
    from ..catalog.service import SearchQuery, _int_param, parse_search_params
    from ..catalog.service import search as catalog_search

    params = dict(params or {})
    errors: list[FieldError] = []
    size = _int_param(params, "page_size", 10, 1, 20, errors)
    days = _int_param(params, "days", availability.SEARCH_DAYS, 1, availability.WINDOW_DAYS, errors)
    try:
        query = parse_search_params({k: v for k, v in params.items() if k in ("q", "region", "institute")})
    except ValidationFailed as exc:
        errors = exc.errors + errors
    if errors:
        raise ValidationFailed(errors)
    found = catalog_search(SearchQuery(query.q, "equipment", query.institute, query.region, 1, 50))
    ids = [h["id"] for h in found["hits"]]
    calendars = ctx.catalog.calendars(ids) if ids else {}
    now = ctx.clock()
    first, last = availability.hour_key(now), availability.hour_key(now + timedelta(days=days + 1))
    items = []
    for hit in found["hits"]:
        cal = calendars.get(hit["id"])
        if not cal or not cal.get("institute"):
            continue  # not open to outside users, or not owned by one of our institutes
        held = ctx.cases.held_hours(hit["id"], first, last)
        items.append({**_equipment_view(cal), "score": hit["score"], "highlight": hit.get("highlight"),
                      "url": hit.get("url"), "calendar_synced_at": cal.get("synced_at"),
                      "available_slots": availability.free_slots(cal, held, now, days)})
        if len(items) >= size:
            break
    return {"query": query.q, "total": len(items), "items": items, "index": found.get("index")}


def _equipment_view(cal: dict) -> dict:
    from ..directory import load_directory

    inst = load_directory().get(cal.get("institute") or "")
    return {"equipment_id": cal["equipment_id"], "name": cal["name"], "name_en": cal.get("name_en"),
            "institute": cal.get("institute"),
            "institute_name": {"ko": inst.name_ko, "en": inst.name_en} if inst else None,
            "institution": cal.get("institution"), "location": cal.get("location"), "region": cal.get("region"),
            "fee": cal.get("fee")}


# --------------------------------------------------------------------------- views
PUBLIC_FIELDS = ("reservation_id", "equipment_id", "equipment_name", "equipment_name_en", "institute",
                 "location", "fee", "slot_start", "slot_end", "samples", "purpose", "status", "created_at",
                 "updated_at", "previous_slot", "reason_public", "note_public")


def public_reservation(reservation: dict) -> dict:
    return {k: reservation.get(k) for k in PUBLIC_FIELDS if reservation.get(k) is not None}


def _event_data(reservation: dict) -> dict:
    """What the history event (and so the notification) carries: no purpose text."""
    data = {k: reservation[k] for k in ("reservation_id", "equipment_id", "equipment_name", "slot_start",
                                        "slot_end", "status") if reservation.get(k) is not None}
    if reservation.get("previous_slot"):
        data["previous_slot"] = reservation["previous_slot"]
    return {"reservation": data, "institute": reservation["institute"]}


# --------------------------------------------------------------------------- booking
def _slot_errors(start: datetime, end: datetime, now: datetime, prefix: str = "") -> list[FieldError]:
    errors = []
    if start.minute or start.second or start.microsecond:
        errors.append(FieldError(f"{prefix}slot_start", "예약은 정시에 시작해야 합니다", "A slot starts on the hour",
                                 "not_on_the_hour"))
    if end <= start:
        errors.append(FieldError(f"{prefix}slot_end", "종료 시각은 시작 시각보다 늦어야 합니다",
                                 "slot_end must be after slot_start", "before_start"))
    elif end - start > timedelta(hours=MAX_HOURS) or (end - start) % availability.SLOT:
        errors.append(FieldError(f"{prefix}slot_end", f"예약은 1~{MAX_HOURS}시간, 1시간 단위입니다",
                                 f"A reservation lasts 1 to {MAX_HOURS} whole hours", "bad_duration"))
    if start < now + availability.MIN_LEAD:
        errors.append(FieldError(f"{prefix}slot_start", "지난 시각이거나 너무 가까운 시각입니다",
                                 "The slot starts in the past or too soon", "too_soon"))
    elif start > now + timedelta(days=availability.WINDOW_DAYS):
        errors.append(FieldError(f"{prefix}slot_start", f"{availability.WINDOW_DAYS}일 이내의 시각만 예약할 수 있습니다",
                                 f"Slots can be booked at most {availability.WINDOW_DAYS} days ahead", "too_far"))
    return errors


def _check_slot(ctx: EquipmentContext, cal: dict, start: datetime, end: datetime) -> None:
    """Opening hours (422), the source's synced bookings and our holds (409)."""
    if not availability.is_open(cal, start, end):
        raise ValidationFailed([FieldError("slot_start", "운영 시간 밖이거나 예약할 수 없는 날입니다",
                                           "Outside the instrument's opening hours or days", "closed")])
    if availability.booked_at_source(cal, start, end):
        raise SlotTaken()
    hours = availability.hours_between(start, end)
    held = ctx.cases.held_hours(cal["equipment_id"], hours[0], hours[-1])
    if held:  # a fast answer; the conditional write is what guarantees it
        raise SlotTaken()


def _calendar(ctx: EquipmentContext, equipment_id: str) -> dict:
    cal = ctx.catalog.calendars([equipment_id]).get(equipment_id)
    if not cal or not cal.get("institute"):
        raise ValidationFailed([FieldError("equipment_id", "예약할 수 있는 장비가 아닙니다",
                                           "Unknown equipment, or not open for reservations", "unknown")])
    return cal


def _source_free(ctx: EquipmentContext, equipment_id: str, start: datetime, end: datetime) -> None:
    from ..catalog.sources.zeus_reservations import UnknownAtSource

    if ctx.source is None:
        raise TransientError("no equipment reservation source configured")
    try:
        free = ctx.source.is_free(equipment_id, start, end)
    except UnknownAtSource:
        raise ValidationFailed([FieldError("equipment_id", "예약할 수 있는 장비가 아닙니다",
                                           "Unknown equipment, or not open for reservations", "unknown")]) from None
    if not free:
        raise SlotTaken()


def _local(value: datetime) -> str:
    return value.astimezone(korea.SEOUL).isoformat()


def reserve(ctx: EquipmentContext, case_id: str, token: str | None, payload) -> dict:
    """``POST /cases/{id}/reservations``: a pending reservation (see the module docstring)."""
    from ..intake import load_case_for_sme

    case = load_case_for_sme(ctx.cases, case_id, token)  # first: no validation answers without the token
    body: ReservationInput = parse_model(ReservationInput, payload)
    now = ctx.clock()
    errors = _slot_errors(body.slot_start, body.slot_end, now)
    if errors:
        raise ValidationFailed(errors)
    if case["status"] not in OPEN_STATUSES:
        raise Conflict("The case is no longer open.", "종료된 사례에서는 예약할 수 없습니다.")
    cal = _calendar(ctx, body.equipment_id)
    _check_slot(ctx, cal, body.slot_start, body.slot_end)
    _source_free(ctx, body.equipment_id, body.slot_start, body.slot_end)
    at = iso(now)
    reservation = {
        "reservation_id": "R" + uuid.uuid4().hex[:20], "case_id": case_id, "case_number": case["case_number"],
        "equipment_id": cal["equipment_id"], "equipment_name": cal["name"], "equipment_name_en": cal.get("name_en"),
        "institute": cal["institute"], "location": cal.get("location"), "fee": cal.get("fee"),
        "slot_start": _local(body.slot_start), "slot_end": _local(body.slot_end), "samples": body.samples,
        "purpose": body.purpose, "status": "pending", "created_at": at, "updated_at": at, "sequence": 0,
    }
    hours = availability.hours_between(body.slot_start, body.slot_end)
    event = CaseEvent(case_id=case_id, type=EventType.EQUIPMENT_REQUESTED, at=at, actor=Actor(kind="sme", id="public"),
                      data=_event_data(reservation))
    ctx.cases.create_reservation(reservation, hours, event, _expiry(body.slot_end))
    _forward_request(ctx, reservation)
    return public_reservation(reservation)


def _expiry(end: datetime) -> int:
    return int((end + timedelta(days=HOLD_DAYS_AFTER)).timestamp())


def _forward_request(ctx: EquipmentContext, reservation: dict) -> None:
    """Send the booking to ZEUS; on a conflict there, give the time back and answer 409."""
    from ..catalog.sources.base import SourceRejected
    from ..catalog.sources.zeus_reservations import SlotTakenAtSource

    try:
        number = ctx.source.request(reservation["equipment_id"], datetime.fromisoformat(reservation["slot_start"]),
                                    datetime.fromisoformat(reservation["slot_end"]), reservation["reservation_id"],
                                    int(reservation.get("samples") or 1))
    except SlotTakenAtSource:
        _change(ctx, reservation, "cancelled", EventType.EQUIPMENT_CANCELLED, Actor(kind="system", id="zeus"),
                {"reason_public": "taken_at_source"}, release=True)
        raise SlotTaken() from None
    except (TransientError, SourceRejected) as exc:
        # kept pending: the institute's confirmation forwards it again (same reference, no double)
        log.warning("equipment request not forwarded", extra={"reservation_id": reservation["reservation_id"],
                                                               "error_type": type(exc).__name__})
        return
    reservation["source_reservation_no"] = number
    ctx.cases.set_reservation_fields(reservation, {"source_reservation_no": number})


def _change(ctx: EquipmentContext, reservation: dict, status: str, event_type: str, actor: Actor,
            extra: dict | None = None, *, release: bool = False, hold: list[str] = (), expires_at: int = 0) -> dict:
    at = iso(ctx.clock())
    changes = {"status": status, "updated_at": at, "sequence": int(reservation.get("sequence", 0)) + 1,
               **(extra or {})}
    new = {**reservation, **changes}
    event = CaseEvent(case_id=reservation["case_id"], type=event_type, at=at, actor=actor, data=_event_data(new))
    old_hours = availability.hours_between(datetime.fromisoformat(reservation["slot_start"]),
                                           datetime.fromisoformat(reservation["slot_end"]))
    return ctx.cases.change_reservation(reservation, changes, event, release=old_hours if release else [],
                                        hold=list(hold), expires_at=expires_at)


def _reservation_of_case(ctx: EquipmentContext, case_id: str, token: str | None, reservation_id: str) -> tuple[dict, dict]:
    from ..intake import load_case_for_sme

    case = load_case_for_sme(ctx.cases, case_id, token)
    try:
        reservation = ctx.cases.get_reservation(reservation_id)
    except NotFound:
        raise EquipmentNotFound() from None
    if reservation["case_id"] != case_id:
        raise EquipmentNotFound()
    return case, reservation


def _require(reservation: dict, allowed: tuple[str, ...], target: str) -> None:
    if reservation["status"] not in allowed:
        raise Conflict(f"A reservation in status '{reservation['status']}' cannot become '{target}'.",
                       f"'{reservation['status']}' 상태의 예약은 '{target}'(으)로 바꿀 수 없습니다.")


def _source_cancel(ctx: EquipmentContext, reservation: dict) -> None:
    number = reservation.get("source_reservation_no")
    if not number or ctx.source is None:
        return
    try:
        ctx.source.cancel(number)
    except Exception as exc:  # noqa: BLE001 - our side is already free; ZEUS staff see the stale booking
        log.warning("equipment cancel not forwarded", extra={"reservation_id": reservation["reservation_id"],
                                                             "error_type": type(exc).__name__})


def _source_confirm(ctx: EquipmentContext, reservation: dict) -> str:
    """Make sure ZEUS holds the booking and approve it; SlotTaken when ZEUS gave the time away."""
    from ..catalog.sources.zeus_reservations import SlotTakenAtSource

    if ctx.source is None:
        raise TransientError("no equipment reservation source configured")
    number = reservation.get("source_reservation_no")
    try:
        if not number:
            number = ctx.source.request(reservation["equipment_id"], datetime.fromisoformat(reservation["slot_start"]),
                                        datetime.fromisoformat(reservation["slot_end"]),
                                        f"{reservation['reservation_id']}-{reservation.get('sequence', 0)}",
                                        int(reservation.get("samples") or 1))
        ctx.source.approve(number)
    except SlotTakenAtSource:
        raise SlotTaken() from None
    return number


def sme_cancel(ctx: EquipmentContext, case_id: str, token: str | None, reservation_id: str, payload=None) -> dict:
    _case, reservation = _reservation_of_case(ctx, case_id, token, reservation_id)
    body: ReasonInput = parse_model(ReasonInput, payload if payload is not None else {})
    if reservation["status"] == "cancelled":
        return public_reservation(reservation)
    _require(reservation, ACTIVE, "cancelled")
    extra = {"cancelled_by": "sme", **({"reason_public": body.reason} if body.reason else {})}
    new = _change(ctx, reservation, "cancelled", EventType.EQUIPMENT_CANCELLED, Actor(kind="sme", id="public"),
                  extra, release=True)
    _source_cancel(ctx, reservation)
    return public_reservation(new)


def sme_accept(ctx: EquipmentContext, case_id: str, token: str | None, reservation_id: str) -> dict:
    """The SME takes the slot the institute proposed: the reservation is confirmed."""
    _case, reservation = _reservation_of_case(ctx, case_id, token, reservation_id)
    _require(reservation, ("proposed",), "confirmed")
    number = _source_confirm(ctx, reservation)
    new = _change(ctx, reservation, "confirmed", EventType.EQUIPMENT_CONFIRMED, Actor(kind="sme", id="public"),
                  {"confirmed_at": iso(ctx.clock()), "source_reservation_no": number})
    return public_reservation(new)


def calendar_file(ctx: EquipmentContext, case_id: str, token: str | None, reservation_id: str) -> bytes:
    from ..directory import load_directory
    from .ics import reservation_ics

    case, reservation = _reservation_of_case(ctx, case_id, token, reservation_id)
    language = (case.get("contact") or {}).get("language") or case.get("language") or "ko"
    inst = load_directory().get(reservation["institute"])
    name = inst.name(language) if inst else reservation["institute"]
    return reservation_ics(reservation, case["case_number"], name, language)


def case_reservations(store, case_id: str) -> list[dict]:
    return [public_reservation(r) for r in sorted(store.case_reservations(case_id), key=lambda r: r["created_at"])]


# --------------------------------------------------------------------------- institute side
def institute_view(reservation: dict) -> dict:
    return {**public_reservation(reservation), "case_id": reservation["case_id"],
            "case_number": reservation.get("case_number"),
            "source_reservation_no": reservation.get("source_reservation_no")}


def institute_list(ctx: EquipmentContext, code: str, status: str | None) -> dict:
    if status and status not in ("pending", "proposed", "confirmed", "declined", "cancelled"):
        raise ValidationFailed([FieldError("status", "알 수 없는 상태입니다", "unknown status", "enum")])
    items = sorted(ctx.cases.institute_reservations(code, status), key=lambda r: r["slot_start"])
    return {"institute": code, "reservations": [institute_view(r) for r in items]}


def _institute_reservation(ctx: EquipmentContext, code: str, reservation_id: str) -> dict:
    try:
        reservation = ctx.cases.get_reservation(reservation_id)
    except NotFound:
        raise EquipmentNotFound() from None
    if reservation["institute"] != code:
        raise EquipmentNotFound()  # another institute's reservation: no existence oracle
    return reservation


def institute_answer(ctx: EquipmentContext, code: str, reservation_id: str, action: str, payload=None) -> dict:
    """The owning institute confirms, proposes another slot, declines or cancels."""
    actor = Actor(kind="institute", id=code)
    reservation = _institute_reservation(ctx, code, reservation_id)
    if action == "confirm":
        _require(reservation, ("pending",), "confirmed")
        number = _source_confirm(ctx, reservation)
        new = _change(ctx, reservation, "confirmed", EventType.EQUIPMENT_CONFIRMED, actor,
                      {"confirmed_at": iso(ctx.clock()), "source_reservation_no": number})
        return institute_view(new)
    if action == "propose":
        body: ProposalInput = parse_model(ProposalInput, payload if payload is not None else {})
        errors = _slot_errors(body.slot_start, body.slot_end, ctx.clock())
        if errors:
            raise ValidationFailed(errors)
        _require(reservation, ("pending",), "proposed")
        cal = _calendar(ctx, reservation["equipment_id"])
        if not availability.is_open(cal, body.slot_start, body.slot_end):
            raise ValidationFailed([FieldError("slot_start", "운영 시간 밖이거나 예약할 수 없는 날입니다",
                                               "Outside the instrument's opening hours or days", "closed")])
        extra = {"slot_start": _local(body.slot_start), "slot_end": _local(body.slot_end),
                 "previous_slot": {"start": reservation["slot_start"], "end": reservation["slot_end"]},
                 "source_reservation_no": "", **({"note_public": body.note} if body.note else {})}
        new = _change(ctx, reservation, "proposed", EventType.EQUIPMENT_PROPOSED, actor, extra, release=True,
                      hold=availability.hours_between(body.slot_start, body.slot_end),
                      expires_at=_expiry(body.slot_end))
        _source_cancel(ctx, reservation)
        return institute_view(new)
    body_reason: ReasonInput = parse_model(ReasonInput, payload if payload is not None else {})
    extra = {"reason_public": body_reason.reason} if body_reason.reason else {}
    if action == "decline":
        _require(reservation, ("pending", "proposed"), "declined")
        new = _change(ctx, reservation, "declined", EventType.EQUIPMENT_DECLINED, actor, extra, release=True)
    else:  # cancel
        _require(reservation, ACTIVE, "cancelled")
        new = _change(ctx, reservation, "cancelled", EventType.EQUIPMENT_CANCELLED, actor,
                      {"cancelled_by": "institute", **extra}, release=True)
    _source_cancel(ctx, reservation)
    return institute_view(new)
