"""The institutes' side of a referral (accept, decline, ask the SME, resolve) and the SME's reply.

Tenancy: every function takes the authenticated institute ``code`` and reads the referral item
``CASE#{case_id} / REFERRAL#{code}``. A case that was never referred to ``code`` raises
CaseNotFound, exactly like a case that does not exist (404, never 403: existence is private).

Every change goes through ``lifecycle.check_transition`` and one ``store.update_case`` call with
its event, the referral items moving in the same transaction; the case version makes concurrent
actions (two institutes accepting at once) resolve to one winner.

A decline re-routes through the outbox: when no other offer of the case is still open, the same
transaction appends ``case.route_requested``, the stream relays it to the intake queue, and
``sos1379.referrals.fanout.route_case_event`` refers the next best institute that has not declined (or
hands the case to a coordinator when none is left).
"""
from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from ..directory import load_directory
from ..followups import schedule_actions as schedule_follow_ups
from ..errors import CaseNotFound, FieldError, InvalidTransition, ValidationFailed
from ..events import Actor, CaseEvent, iso, utcnow
from ..intake import load_case_for_sme
from ..lifecycle import REFERRAL_STATUSES, STATUS_LABELS, EventType, Status, check_transition
from ..models import Text, parse_model
from ..referrals.fanout import ACTIVE_REFERRAL_STATUSES, build_message
from ..store import CaseStore, retry_on_concurrent_update


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class DeclineInput(_Input):
    reason: Text(2, 1000, multiline=True)


class RequestInfoInput(_Input):
    question: Text(5, 2000, multiline=True)


class ResolveInput(_Input):
    summary: Text(5, 5000, multiline=True)


class ReplyInput(_Input):
    answer: Text(1, 5000, multiline=True)


def _actor(code: str) -> Actor:
    return Actor(kind="institute", id=code)


def _institute_ref(code: str) -> dict:
    inst = load_directory().get(code)
    return {"code": code, "name_ko": inst.name_ko if inst else code, "name_en": inst.name_en if inst else code}


def _referral(store: CaseStore, case_id: str, code: str) -> dict:
    referral = store.get_referral(case_id, code)
    if referral is None:
        raise CaseNotFound()
    return referral


def _load(store: CaseStore, code: str, case_id: str) -> tuple[dict, dict]:
    referral = _referral(store, case_id, code)  # first: a stranger learns nothing from the case read
    return store.get_case(case_id), referral

def _require(current: str, allowed: set[str], target: str, subject: str = "case") -> None:
    if current not in allowed:
        raise InvalidTransition(current, target, subject)


def _others_active(store: CaseStore, case_id: str, code: str) -> list[dict]:
    return [r for r in store.referrals(case_id)
            if r["institute"] != code and r.get("status") in ACTIVE_REFERRAL_STATUSES]


# --------------------------------------------------------------------------- reads


def list_referrals(store: CaseStore, code: str, status: str | None = None) -> list[dict]:
    if status is not None and status not in REFERRAL_STATUSES:
        raise ValidationFailed([FieldError("status", f"허용된 값: {', '.join(REFERRAL_STATUSES)}",
                                           f"Must be one of: {', '.join(REFERRAL_STATUSES)}", "literal_error")])
    items = store.institute_referrals(code, status)
    items.sort(key=lambda r: r.get("referred_at", ""), reverse=True)
    out = [{k: r.get(k) for k in ("case_id", "case_number", "referral_id", "status", "title", "service_type",
                                  "referred_at", "respond_by", "updated_at")} for r in items]
    # Open referrals also say where the case stands (waiting for the SME? due when?): one
    # BatchGetItem per 100 open referrals, so the console can sort its inbox without N reads.
    open_ids = [r["case_id"] for r in out if r["status"] in ("referred", "accepted")]
    cases = {c["case_id"]: c for c in store.get_cases(open_ids, ["status", "guidance_due_at", "open_request"])}
    for r in out:
        case = cases.get(r["case_id"])
        if case is not None:
            r["case_status"] = case.get("status")
            r["guidance_due_at"] = case.get("guidance_due_at")
            r["waiting_for_sme"] = (case.get("status") == Status.INFO_REQUESTED
                                    and (case.get("open_request") or {}).get("institute") == code)
    return out


def _exchanges(store: CaseStore, case_id: str, code: str) -> list[dict]:
    """This institute's questions to the SME and the SME's answers, in order."""
    out: list[dict] = []
    for event in store.history(case_id):
        data = event.get("data") or {}
        inst = data.get("institute")
        inst = inst.get("code") if isinstance(inst, dict) else inst
        if event["type"] == EventType.INFO_REQUESTED and inst == code:
            out.append({"question": data.get("question"), "asked_at": event["at"], "answer": None, "answered_at": None})
        elif event["type"] == EventType.INFO_PROVIDED and inst == code and out and out[-1]["answer"] is None:
            out[-1].update(answer=data.get("answer"), answered_at=event["at"])
    return out


def get_referral(store: CaseStore, code: str, case_id: str) -> dict:
    """The referral as the institute sees it: the v1 message (contact only with consent and only
    while the referral is open to this institute), its status and the case's current state."""
    case, referral = _load(store, code, case_id)
    message = build_message(case, referral).model_dump(mode="json")
    if referral["status"] not in ("referred", "accepted", "resolved"):
        message["contact"], message["contact_withheld"] = None, True
    ko, en = STATUS_LABELS.get(case["status"], (case["status"], case["status"]))
    open_request = case.get("open_request")
    return {
        "referral": {k: referral.get(k) for k in ("referral_id", "status", "referred_at", "updated_at",
                                                  "respond_by", "decline_reason")},
        "case": {"case_id": case["case_id"], "case_number": case["case_number"], "status": case["status"],
                 "status_label": {"ko": ko, "en": en},
                 "open_request": open_request if open_request and open_request.get("institute") == code else None,
                 "outcome": case.get("outcome") if (case.get("outcome") or {}).get("institute") == code else None,
                 "guidance_due_at": case.get("guidance_due_at")},
        "message": message,
        "exchanges": _exchanges(store, case_id, code),
    }


# --------------------------------------------------------------------------- institute actions


def accept(store: CaseStore, code: str, case_id: str) -> dict:
    def run() -> dict:
        case, referral = _load(store, code, case_id)
        _require(referral["status"], {"referred"}, "accepted", "referral")
        _require(case["status"], {Status.REFERRED}, Status.ACCEPTED)
        check_transition(case["status"], Status.ACCEPTED)
        at = iso(utcnow())
        actions = [store.referral_status_action(referral, "accepted", at, {"accepted_at": at})]
        # the first institute to accept takes the case; the other offers lapse
        actions += [store.referral_status_action(other, "superseded", at) for other in
                    _others_active(store, case_id, code)]
        event = CaseEvent(case_id=case_id, type=EventType.ACCEPTED, at=at, actor=_actor(code),
                          data={"institute": _institute_ref(code)})
        new = store.update_case(case, {"status": Status.ACCEPTED.value, "accepted_by": code, "updated_at": at},
                                events=[event], extra_actions=actions)
        return {"case_id": case_id, "status": new["status"], "referral_status": "accepted"}

    return retry_on_concurrent_update(run)


def start(store: CaseStore, code: str, case_id: str, *, now=None) -> dict:
    """The accepting institute starts working with the SME: ``accepted -> in_progress``.

    Explicit rather than implied by the first accept: accepting says "this is ours", starting says
    "someone is on it" (a visit booked, equipment time reserved), which is what the SME's page and
    the statistics should show. Idempotent: starting a case already in progress changes nothing.
    ``case.in_progress`` resumes a paused SLA clock like any move forward (sos1379.sla.clocks)."""

    def run() -> dict:
        case, referral = _load(store, code, case_id)
        _require(referral["status"], {"accepted"}, Status.IN_PROGRESS, "referral")
        if case["status"] == Status.IN_PROGRESS:
            return {"case_id": case_id, "status": case["status"], "changed": False}
        _require(case["status"], {Status.ACCEPTED}, Status.IN_PROGRESS)
        check_transition(case["status"], Status.IN_PROGRESS)
        at = iso(now or utcnow())
        event = CaseEvent(case_id=case_id, type=EventType.IN_PROGRESS, at=at, actor=_actor(code),
                          data={"institute": _institute_ref(code)})
        new = store.update_case(case, {"status": Status.IN_PROGRESS.value, "started_at": at, "updated_at": at},
                                events=[event])
        return {"case_id": case_id, "status": new["status"], "changed": True}

    return retry_on_concurrent_update(run)


def decline(store: CaseStore, code: str, case_id: str, payload) -> dict:
    body: DeclineInput = parse_model(DeclineInput, payload)

    def run() -> dict:
        case, referral = _load(store, code, case_id)
        _require(referral["status"], {"referred", "accepted"}, "declined", "referral")
        now = utcnow()
        at = iso(now)
        declined_by = [c for c in (case.get("declined_by") or []) if c != code] + [code]
        actions = [store.referral_status_action(referral, "declined", at,
                                           {"declined_at": at, "decline_reason": body.reason})]
        events = [CaseEvent(case_id=case_id, type=EventType.DECLINED, at=at, actor=_actor(code),
                            data={"institute": _institute_ref(code), "reason": body.reason})]
        changes: dict = {"declined_by": declined_by, "updated_at": at}
        if (case.get("open_request") or {}).get("institute") == code:
            # the question dies with the decline; the re-route moves the case on from info_requested
            changes["open_request"] = None
            changes["resume_status"] = None
        others = _others_active(store, case_id, code)
        rerouted = not others and case["status"] not in (Status.RESOLVED, Status.CLOSED, Status.WITHDRAWN,
                                                         Status.HANDED_OFF)
        if rerouted:
            # relayed to the intake queue by the stream; the router refers the next institute
            events.append(CaseEvent(case_id=case_id, type=EventType.ROUTE_REQUESTED, at=iso(now + timedelta(milliseconds=1)),
                                    actor=_actor(code), data={"reason": "declined", "declined_by": declined_by}))
        changes["referred_to"] = [r["institute"] for r in others]
        new = store.update_case(case, changes, events=events, extra_actions=actions)
        return {"case_id": case_id, "status": new["status"], "referral_status": "declined", "rerouted": rerouted}

    return retry_on_concurrent_update(run)


def request_info(store: CaseStore, code: str, case_id: str, payload) -> dict:
    body: RequestInfoInput = parse_model(RequestInfoInput, payload)

    def run() -> dict:
        case, referral = _load(store, code, case_id)
        _require(referral["status"], {"referred", "accepted"}, Status.INFO_REQUESTED, "referral")
        _require(case["status"], {Status.REFERRED, Status.ACCEPTED, Status.IN_PROGRESS}, Status.INFO_REQUESTED)
        check_transition(case["status"], Status.INFO_REQUESTED)
        at = iso(utcnow())
        request = {"question": body.question, "institute": code, "asked_at": at}
        event = CaseEvent(case_id=case_id, type=EventType.INFO_REQUESTED, at=at, actor=_actor(code),
                          data={"question": body.question, "institute": _institute_ref(code),
                                "resume_status": case["status"]})
        new = store.update_case(case, {"status": Status.INFO_REQUESTED.value, "resume_status": case["status"],
                                       "open_request": request, "updated_at": at}, events=[event])
        return {"case_id": case_id, "status": new["status"], "resume_status": case["status"]}

    return retry_on_concurrent_update(run)


def resolve(store: CaseStore, code: str, case_id: str, payload) -> dict:
    body: ResolveInput = parse_model(ResolveInput, payload)

    def run() -> dict:
        case, referral = _load(store, code, case_id)
        _require(referral["status"], {"accepted"}, Status.RESOLVED, "referral")
        _require(case["status"], {Status.ACCEPTED, Status.IN_PROGRESS, Status.INFO_REQUESTED}, Status.RESOLVED)
        check_transition(case["status"], Status.RESOLVED)
        moment = utcnow()
        at = iso(moment)
        outcome = {"summary": body.summary, "institute": code, "resolved_at": at, "result": "solved"}
        event = CaseEvent(case_id=case_id, type=EventType.RESOLVED, at=at, actor=_actor(code),
                          data={"summary": body.summary, "institute": _institute_ref(code), "outcome": "solved"})
        new = store.update_case(case, {"status": Status.RESOLVED.value, "outcome": outcome, "open_request": None,
                                       "resume_status": None, "updated_at": at}, events=[event],
                                extra_actions=[store.referral_status_action(referral, "resolved", at,
                                                                       {"resolved_at": at}),
                                               *schedule_follow_ups(store, case_id, moment)])
        return {"case_id": case_id, "status": new["status"], "referral_status": "resolved"}

    return retry_on_concurrent_update(run)


# --------------------------------------------------------------------------- the SME's side


def reply(store: CaseStore, case_id: str, token: str | None, payload) -> dict:
    """The SME answers an open information request; the case returns to where it was."""
    body: ReplyInput = parse_model(ReplyInput, payload)

    def run() -> dict:
        case = load_case_for_sme(store, case_id, token)
        resume = case.get("resume_status") or Status.RECEIVED.value
        if case["status"] != Status.INFO_REQUESTED:
            raise InvalidTransition(case["status"], resume)
        check_transition(case["status"], resume)
        at = iso(utcnow())
        request = case.get("open_request") or {}
        event = CaseEvent(case_id=case_id, type=EventType.INFO_PROVIDED, at=at, actor=Actor(kind="sme", id="public"),
                          data={"answer": body.answer, "question": request.get("question"),
                                "institute": request.get("institute"), "resume_status": resume})
        new = store.update_case(case, {"status": resume, "resume_status": None, "open_request": None,
                                       "last_info_provided_at": at, "updated_at": at}, events=[event])
        return {"case_id": case_id, "status": new["status"]}

    return retry_on_concurrent_update(run)
