"""The coordinators' workflow: triage queue, case detail, case actions, counselor intake, ratings.

Who may do what (the role ladder is counselor < coordinator < lead):

| action                                     | least role   | note                                        |
|--------------------------------------------|--------------|---------------------------------------------|
| queue, case detail                         | counselor    | contact unmasked for counselors (they call  |
|                                            |              | SMEs back), the assignee and leads          |
| record a call/visit (intake), note,        | counselor    | front-line work on the phone                |
| request information, guidance by phone     |              |                                             |
| assign, re-route, hand off, close          | coordinator  | decisions about where a case goes           |
| take over a case assigned to someone else  | lead         |                                             |
| monthly statistics                         | coordinator  |                                             |

Every action is one ``update_case`` (or ``append_event`` for notes) carrying an event whose actor is
the staff member, so the history says who did what. Optimistic-lock conflicts are retried on a
fresh read a few times, then reported as ConcurrentUpdate (409)."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from .. import intake, korea
from ..directory import load_directory
from ..errors import AlreadyDone, Conflict, FieldError, ValidationFailed
from ..events import Actor, CaseEvent, iso, utcnow
from ..lifecycle import EventType, Status, check_transition
from ..models import CaseSubmission, CounselorCaseSubmission, Text, parse_model
from ..sla import index_changes, sla_status, window_until
from ..sla.clocks import ClockState
from ..sla.flagger import FLAGGED_STATUSES
from ..store import CaseStore, retry_on_concurrent_update, without_storage_fields
from .auth import Staff, require
from ..settings import get_settings

log = logging.getLogger("sos1379.coordinators")

STAFF_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
TRIAGE_REASONS_ALL_DECLINED = frozenset({"no_institute_left", "decline_limit", "declined_then_partner"})
_HIDDEN_FIELDS = ("tracking_token_hash", "routing_events")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class AssignInput(_Input):
    coordinator: Text(1, 64)

    @field_validator("coordinator")
    @classmethod
    def _id(cls, value: str) -> str:
        if not STAFF_ID.match(value):
            raise ValueError("staff id: letters, digits and . _ @ - only")
        return value


class RerouteInput(_Input):
    institutes: list[Text(2, 20)] = Field(min_length=1, max_length=5)
    reason: Text(2, 500, multiline=True)


class NoteInput(_Input):
    text: Text(1, 4000, multiline=True)


class RequestInfoInput(_Input):
    question: Text(5, 2000, multiline=True)


class GuidanceInput(_Input):
    summary: Text(5, 4000, multiline=True)
    resolve: StrictBool = False     # the guidance solved the problem: the case becomes resolved


class HandoffInput(_Input):
    partner: Literal["BIZINFO1357", "CCEI"]
    note: Text(0, 1000, multiline=True) | None = None


class CloseInput(_Input):
    reason: Literal["resolved", "duplicate", "no_response", "out_of_scope", "withdrawn_by_phone", "other"] = "resolved"
    note: Text(0, 1000, multiline=True) | None = None


class RatingInput(_Input):
    score: int = Field(ge=1, le=5, strict=True, json_schema_extra={"enum": [1, 2, 3, 4, 5]})
    comment: Text(0, 1000, multiline=True) | None = None


# --- helpers ---------------------------------------------------------------------------------------

def _event(staff: Staff, case: dict, kind: str, at: str, data: dict) -> CaseEvent:
    return CaseEvent(case_id=case["case_id"], type=kind, at=at, actor=staff.actor, data=data)


def _sla_changes(store: CaseStore, case: dict, new_events: list[CaseEvent], now: datetime,
                 changes: dict) -> dict:
    """Index changes after an action that moves a clock (guidance, information request)."""
    history = store.history(case["case_id"]) + [{"type": e.type, "at": e.at, "data": e.data} for e in new_events]
    return index_changes({**case, **changes}, sla_status({**case, **changes}, history, now))


def _summary(case: dict, sla=None) -> dict:
    return {"case_id": case["case_id"], "case_number": case.get("case_number"), "status": case["status"],
            "title": case.get("title"), "service_type": case.get("service_type"), "channel": case.get("channel"),
            "region": (case.get("company") or {}).get("region"), "created_at": case.get("created_at"),
            "guidance_due_at": case.get("guidance_due_at"), "assigned_to": case.get("assigned_to"),
            "routing": {k: (case.get("routing") or {}).get(k) for k in ("decision", "confidence", "reason")},
            # the router's best candidates: what a coordinator re-routes to most of the time, with
            # the reasons (matched facts, similar past cases, catalog items) for a triaged case
            "suggested": [{"code": i.get("code"), "score": i.get("score"), "reasons": list(i.get("reasons") or [])[:4]}
                          for i in ((case.get("routing") or {}).get("institutes") or [])[:3]],
            "referred_to": case.get("referred_to") or [],
            "declined_by": case.get("declined_by") or [],
            "sla": {c.name: {"state": c.state.value, "due_at": iso(c.due_at),
                             "remaining_business_days": round(c.remaining_business_days, 2)}
                    for c in sla.clocks} if sla else None}


# --- reads -----------------------------------------------------------------------------------------

def triage_queue(store: CaseStore, staff: Staff, now: datetime | None = None, *, limit: int = 100) -> dict:
    """What needs a person: new cases nobody routed yet, cases the router gave to a coordinator
    (low confidence) or that every institute declined, and cases at risk or breached. Reads the
    StatusDue index only (received and triaged partitions, and the cases due within a business
    day), never the whole table."""
    require(staff, "counselor")
    now = now or utcnow()
    stale = iso(now - timedelta(minutes=get_settings().coordinators.queue_new_after_minutes))
    sections: dict[str, list] = {"new": [], "low_confidence": [], "declined_by_all": [], "at_risk": [],
                                 "breached": []}
    for case in store.open_cases_due_before("~", statuses=[Status.RECEIVED.value]):
        if case.get("created_at", "") <= stale and len(sections["new"]) < limit:
            sections["new"].append(_summary(case))
    for case in store.open_cases_due_before("~", statuses=[Status.TRIAGED.value]):
        reason = (case.get("routing") or {}).get("reason")
        key = "declined_by_all" if reason in TRIAGE_REASONS_ALL_DECLINED else "low_confidence"
        if len(sections[key]) < limit:
            sections[key].append(_summary(case))
    for case in store.open_cases_due_before(iso(window_until(now)), statuses=FLAGGED_STATUSES):
        status = sla_status(case, store.history(case["case_id"]), now)
        worst = status.worst_state
        if worst in (ClockState.AT_RISK, ClockState.BREACHED):
            key = "breached" if worst == ClockState.BREACHED else "at_risk"
            if len(sections[key]) < limit:
                sections[key].append(_summary(case, status))
    return {"generated_at": iso(now), "counts": {k: len(v) for k, v in sections.items()}, **sections}


def _sees_contact(staff: Staff, case: dict) -> bool:
    return staff.role in ("counselor", "lead") or case.get("assigned_to") == staff.sub


def case_detail(store: CaseStore, staff: Staff, case_id: str, now: datetime | None = None) -> dict:
    require(staff, "counselor")
    case = store.get_case(case_id)
    history = store.history(case_id)
    view = without_storage_fields({k: v for k, v in case.items() if k not in _HIDDEN_FIELDS})
    unmasked = _sees_contact(staff, case)
    if not unmasked:
        contact = dict(case.get("contact") or {})
        contact.update(name="***", phone=korea.mask_phone(contact.get("phone", "")),
                       email=korea.mask_email(contact.get("email", "")))
        view["contact"] = contact
        company = dict(view.get("company") or {})
        if company.get("business_number"):
            company["business_number"] = company["business_number"][:3] + "-**-*****"
        view["company"] = company
    events = [{k: e.get(k) for k in ("event_id", "type", "at", "actor", "data", "visibility")} for e in history]
    return {"case": view, "contact_unmasked": unmasked, "history": events,
            "referrals": [without_storage_fields(r) for r in store.referrals(case_id)],
            "sla": sla_status(case, history, now or utcnow()).as_dict()}


# --- actions ---------------------------------------------------------------------------------------

def assign(store: CaseStore, staff: Staff, case_id: str, payload) -> dict:
    require(staff, "coordinator")
    body: AssignInput = parse_model(AssignInput, payload)

    def run() -> dict:
        case = store.get_case(case_id)
        current = case.get("assigned_to")
        if current and current not in (staff.sub, body.coordinator):
            require(staff, "lead")  # taking a case away from a colleague is the lead's call
        if current == body.coordinator:
            return {"case_id": case_id, "assigned_to": current, "changed": False}
        at = iso(utcnow())
        event = _event(staff, case, EventType.ASSIGNED, at, {"coordinator": body.coordinator, "previous": current})
        store.update_case(case, {"assigned_to": body.coordinator, "updated_at": at}, events=[event])
        return {"case_id": case_id, "assigned_to": body.coordinator, "changed": True}

    return retry_on_concurrent_update(run)


def reroute(store: CaseStore, staff: Staff, case_id: str, payload) -> dict:
    """Override the routing: the referral fan-out (route_case) refers to exactly these codes."""
    require(staff, "coordinator")
    body: RerouteInput = parse_model(RerouteInput, payload)
    directory = load_directory()
    unknown = [c for c in body.institutes if c not in directory]
    if unknown:
        raise ValidationFailed([FieldError("institutes", f"알 수 없는 기관 코드: {', '.join(unknown)}",
                                           f"Unknown institute codes: {', '.join(unknown)}", "unknown_institute")])
    targets = list(dict.fromkeys(body.institutes))
    referable = [c for c in targets if directory[c].receives_referrals]

    def run() -> dict:
        case = store.get_case(case_id)
        check_transition(case["status"], Status.REFERRED if referable else Status.HANDED_OFF)
        at = iso(utcnow())
        event = _event(staff, case, EventType.ROUTE_REQUESTED, at,
                       {"targets": targets, "reason": body.reason, "forced": True})
        store.update_case(case, {"updated_at": at}, events=[event])
        return {"case_id": case_id, "status": case["status"], "route_requested": targets, "event_id": event.event_id}

    return retry_on_concurrent_update(run)


def add_note(store: CaseStore, staff: Staff, case_id: str, payload) -> dict:
    require(staff, "counselor")
    body: NoteInput = parse_model(NoteInput, payload)
    case = store.get_case(case_id)
    event = _event(staff, case, EventType.NOTE_ADDED, iso(utcnow()), {"text": body.text})
    store.append_event(event)
    return {"case_id": case_id, "event_id": event.event_id, "visibility": event.visibility}


def request_info(store: CaseStore, staff: Staff, case_id: str, payload) -> dict:
    require(staff, "counselor")
    body: RequestInfoInput = parse_model(RequestInfoInput, payload)

    def run() -> dict:
        case = store.get_case(case_id)
        check_transition(case["status"], Status.INFO_REQUESTED)
        now = utcnow()
        at = iso(now)
        event = _event(staff, case, EventType.INFO_REQUESTED, at,
                       {"question": body.question, "resume_status": case["status"]})
        changes = {"status": Status.INFO_REQUESTED.value, "resume_status": case["status"], "updated_at": at,
                   "open_request": {"question": body.question, "asked_by": staff.actor.as_dict(), "asked_at": at}}
        new = store.update_case(case, changes, events=[event])
        return {"case_id": case_id, "status": new["status"], "resume_status": case["status"]}

    return retry_on_concurrent_update(run)


def record_guidance(store: CaseStore, staff: Staff, case_id: str, payload) -> dict:
    """Guidance given (e.g. by phone): stops the first-guidance clock; ``resolve`` also resolves."""
    require(staff, "counselor")
    body: GuidanceInput = parse_model(GuidanceInput, payload)

    def run() -> dict:
        case = store.get_case(case_id)
        if case["status"] not in {s.value for s in (Status.RECEIVED, Status.TRIAGED, Status.REFERRED, Status.ACCEPTED,
                                                     Status.IN_PROGRESS, Status.INFO_REQUESTED)}:
            raise Conflict("Guidance can only be recorded on an open case", "진행 중인 사례에만 기록할 수 있습니다")
        now = utcnow()
        at = iso(now)
        events = [_event(staff, case, EventType.GUIDANCE_GIVEN, at, {"summary": body.summary, "by": staff.role})]
        changes: dict = {"updated_at": at, "first_guidance_at": case.get("first_guidance_at") or at}
        if body.resolve:
            check_transition(case["status"], Status.RESOLVED)
            later = iso(now + timedelta(milliseconds=1))
            events.append(_event(staff, case, EventType.RESOLVED, later, {"summary": body.summary,
                                                                          "outcome": "guidance"}))
            changes.update(status=Status.RESOLVED.value, open_request=None, resume_status=None,
                           outcome={"summary": body.summary, "by": staff.actor.as_dict(), "resolved_at": later,
                                    "result": "guidance"})
        changes.update(_sla_changes(store, case, events, now, changes))
        from ..followups import schedule_actions  # 30/90-business-day check-ins after a resolution

        follow_ups = schedule_actions(store, case_id, now) if body.resolve else []
        new = store.update_case(case, changes, events=events, extra_actions=follow_ups)
        return {"case_id": case_id, "status": new["status"], "first_guidance_at": new["first_guidance_at"]}

    return retry_on_concurrent_update(run)


def handoff(store: CaseStore, staff: Staff, case_id: str, payload) -> dict:
    require(staff, "coordinator")
    body: HandoffInput = parse_model(HandoffInput, payload)
    from ..referrals.fanout import partner_for

    def run() -> dict:
        case = store.get_case(case_id)
        check_transition(case["status"], Status.HANDED_OFF)
        partner = partner_for(body.partner, case)
        at = iso(utcnow())
        event = _event(staff, case, EventType.HANDED_OFF, at, {"partner": partner, "note": body.note})
        from ..institutes.partners import handoff_action

        new = store.update_case(case, {"status": Status.HANDED_OFF.value, "handed_off_to": partner,
                                       "open_request": None, "resume_status": None, "updated_at": at}, events=[event],
                                extra_actions=handoff_action(store, case, partner, at))
        return {"case_id": case_id, "status": new["status"], "partner": partner}

    return retry_on_concurrent_update(run)


def close(store: CaseStore, staff: Staff, case_id: str, payload) -> dict:
    require(staff, "coordinator")
    body: CloseInput = parse_model(CloseInput, payload or {})

    def run() -> dict:
        case = store.get_case(case_id)
        check_transition(case["status"], Status.CLOSED)
        at = iso(utcnow())
        event = _event(staff, case, EventType.CLOSED, at, {"reason": body.reason, "note": body.note})
        new = store.update_case(case, {"status": Status.CLOSED.value, "closed_reason": body.reason,
                                       "open_request": None, "resume_status": None, "updated_at": at}, events=[event])
        return {"case_id": case_id, "status": new["status"]}

    return retry_on_concurrent_update(run)


# --- counselor intake ------------------------------------------------------------------------------

STAFF_CHANNELS = ("call_center", "visit")


def counselor_intake(store: CaseStore, staff: Staff, payload, *, idempotency_key: str | None = None,
                     now: datetime | None = None) -> tuple[dict, bool]:
    """A 1379 call or a walk-in visit recorded by a counselor on the SME's behalf. The SME's
    consent is part of the submission (asked on the phone or signed at the desk); who recorded it
    is kept on the case as ``consent_recorded_by``, written in intake's one transaction with the
    case and its ``case.submitted`` event: there is no moment when the case exists without it."""
    require(staff, "counselor")
    submission: CaseSubmission = parse_model(CounselorCaseSubmission, payload)
    now = now or utcnow()
    record = {"staff_id": staff.sub, "role": staff.role, "channel": submission.channel, "at": iso(now),
              "personal_info": submission.consent.personal_info,
              "share_with_institutes": submission.consent.share_with_institutes}
    fields: dict = {"consent_recorded_by": record}
    if submission.verified_channels:
        # confirmed with the SME on the phone or at the desk: no code needed (sos1379.verification)
        fields["contact_verified"] = {c: {"at": iso(now), "by": staff.role} for c in submission.verified_channels}
    return intake.submit_case(store, payload, idempotency_key=idempotency_key, actor=staff.actor, now=now,
                              case_fields=fields, model=CounselorCaseSubmission,
                              idempotency_scope=f"staff {staff.sub} POST /coordinator/cases")


# --- satisfaction --------------------------------------------------------------------------------

def rate_case(store: CaseStore, case_id: str, token: str | None, payload) -> dict:
    """The SME rates the help once, after resolution (tracking token required)."""
    body: RatingInput = parse_model(RatingInput, payload)

    def run() -> dict:
        case = intake.load_case_for_sme(store, case_id, token)
        if case.get("rating"):
            raise AlreadyDone("This case was already rated", "이미 만족도를 평가했습니다")
        if case["status"] not in (Status.RESOLVED, Status.CLOSED) or not case.get("outcome"):
            raise Conflict("A case can be rated once it is resolved", "해결된 사례만 평가할 수 있습니다")
        at = iso(utcnow())
        rating = {"score": body.score, "comment": body.comment, "rated_at": at}
        event = CaseEvent(case_id=case_id, type=EventType.RATED, at=at, actor=Actor(kind="sme", id="public"),
                          data={"rating": body.score})
        store.update_case(case, {"rating": rating, "updated_at": at}, events=[event])
        return {"case_id": case_id, "rating": {"score": body.score, "rated_at": at}}

    return retry_on_concurrent_update(run)
