"""Follow-up after resolution: check-ins 30 and 90 business days later, the SME's outcome, and
the next stage of the commercialisation cycle as a linked case.

- Scheduling: the transaction that resolves a case (an institute's ``resolve`` or a coordinator's
  resolving guidance) also writes one pending item per stage, ``FOLLOWUP#PENDING /
  {due_at}#{stage}#{case_id}``, due ``STAGES[stage]`` Seoul business days after the resolution.
- Sending: the daily ``SendFollowUpsFunction`` (:func:`send_due`, the scheduled event's time is
  ``now``) reads only the pending items already due (one Query, SK <= now) and, per item, in one
  ``update_case`` transaction: records the stage's marker ``follow_ups.{stage}`` on the case
  (conditional on the case version), appends ``case.follow_up`` and deletes the pending item. The
  outbox relays ``case.follow_up`` to the notification queue, which sends it in the channels the
  SME chose, with a link to the tracking page. A re-run, a concurrent run or a redelivered
  schedule finds the marker (or loses the version race) and sends nothing: exactly once per stage.
  A case re-opened in the meantime (``resolved -> in_progress``) skips the stage; resolving again
  schedules new check-ins.
- Answer: ``POST /cases/{id}/follow-up {stage, result, licensed, funded, next_service_type?}``
  with the tracking or link token records the outcome once per stage (``case.follow_up_answered``).
  With ``next_service_type`` (e.g. ``tech_transfer`` after consulting) it opens the next stage as a
  new case of the same company and contact, linked both ways (``follows`` / ``next_cases``); its
  receipt (with its own tracking token) is in the answer.
- Reporting: :func:`outcome_report` counts answers per institute (solved / partly / not, licensed,
  funded); the monthly report includes it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from . import korea
from .errors import AlreadyDone, ConcurrentUpdate, Conflict
from .events import Actor, CaseEvent, iso, utcnow
from .lifecycle import EventType, Status
from .models import ServiceTypeCode, Text, parse_model
from .store import CaseStore

STAGES: dict[str, int] = {"d30": 30, "d90": 90}  # stage -> business days after resolution
ACTOR = Actor(kind="system", id="follow_up")


def schedule_actions(store: CaseStore, case_id: str, resolved_at: datetime) -> list[dict]:
    """Pending check-ins to write in the resolving transaction."""
    due = {stage: iso(korea.add_business_days(resolved_at, days)) for stage, days in STAGES.items()}
    return store.follow_up_actions(case_id, due, iso(resolved_at))


@dataclass
class FollowUpRun:
    now: str
    examined: int = 0
    sent: list[str] = field(default_factory=list)      # "case_id:stage"
    skipped: int = 0


def send_due(store: CaseStore, now: datetime | None = None) -> FollowUpRun:
    """Send every check-in due at ``now`` exactly once (see the module docstring)."""
    now = now or utcnow()
    run = FollowUpRun(now=iso(now))
    for item in store.follow_ups_due(iso(now)):
        run.examined += 1
        stage, case_id = item["stage"], item["case_id"]
        for _attempt in range(3):
            case = store.get_case(case_id)
            markers = dict(case.get("follow_ups") or {})
            if stage in markers or case["status"] not in (Status.RESOLVED, Status.CLOSED) or \
                    case.get("closed_reason") == "duplicate":
                store.forget_follow_up(item)
                run.skipped += 1
                break
            at = iso(now)
            markers[stage] = {"sent_at": at, "due_at": item["due_at"]}
            event = CaseEvent(case_id=case_id, type=EventType.FOLLOW_UP, at=at, actor=ACTOR,
                              data={"stage": stage, "business_days": STAGES.get(stage)})
            try:
                store.update_case(case, {"follow_ups": markers}, events=[event], extra_actions=[store.forget_follow_up_action(item)])
            except ConcurrentUpdate:
                continue  # someone changed the case: re-read (the marker may be there now)
            run.sent.append(f"{case_id}:{stage}")
            break
    return run


# --------------------------------------------------------------------------- the SME's answer


class FollowUpAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    stage: Literal["d30", "d90"]
    result: Literal["solved", "partly", "not"]
    licensed: bool = False     # a technology licence / transfer contract followed
    funded: bool = False       # investment or funding followed
    next_service_type: ServiceTypeCode | None = None
    comment: Text(0, 1000) | None = None


def answer(store: CaseStore, case_id: str, token: str | None, payload, *, now: datetime | None = None) -> dict:
    """Record the SME's follow-up answer once per stage; optionally open the next stage."""
    from .intake import load_case_for_sme, submit_case

    case = load_case_for_sme(store, case_id, token)  # the credential before anything else
    body: FollowUpAnswer = parse_model(FollowUpAnswer, payload)
    if body.stage not in (case.get("follow_ups") or {}):
        raise Conflict("This check-in has not been sent yet", "아직 보내지 않은 사후 확인입니다")
    if body.stage in (case.get("follow_up_outcomes") or {}):
        raise AlreadyDone("This check-in was already answered", "이미 답변한 사후 확인입니다")
    now = now or utcnow()
    at = iso(now)
    next_receipt = None
    if body.next_service_type:
        next_receipt = _open_next_stage(store, case, body.next_service_type, now, submit_case)
    outcome = {"result": body.result, "licensed": body.licensed, "funded": body.funded, "answered_at": at,
               "comment": body.comment, "next_case_number": next_receipt["case_number"] if next_receipt else None}
    for _attempt in range(3):
        current = store.get_case(case_id)
        if body.stage in (current.get("follow_up_outcomes") or {}):
            raise AlreadyDone("This check-in was already answered", "이미 답변한 사후 확인입니다")
        outcomes = {**(current.get("follow_up_outcomes") or {}), body.stage: outcome}
        changes = {"follow_up_outcomes": outcomes}
        if next_receipt:
            changes["next_cases"] = [*(current.get("next_cases") or []), next_receipt["case_number"]]
        event = CaseEvent(case_id=case_id, type=EventType.FOLLOW_UP_ANSWERED, at=at, actor=Actor(kind="sme", id="public"),
                          data={"stage": body.stage, "result": body.result, "licensed": body.licensed,
                                "funded": body.funded, "next_case_number": outcome["next_case_number"]})
        try:
            store.update_case(current, changes, events=[event])
        except ConcurrentUpdate:
            continue
        return {"case_id": case_id, "stage": body.stage, "outcome": outcome, "next_case": next_receipt}
    raise ConcurrentUpdate()


def _open_next_stage(store: CaseStore, case: dict, service_type: str, now: datetime, submit_case) -> dict:
    company = {k: v for k, v in (case.get("company") or {}).items() if v is not None}
    contact = case.get("contact") or {}
    title = f"[후속] {case.get('title', '')}"[:200] if case.get("language", "ko") == "ko" \
        else f"[Next step] {case.get('title', '')}"[:200]
    payload = {"channel": case["channel"], "service_type": service_type, "title": title,
               "description": (f"{case['case_number']} 건의 후속 단계입니다.\n\n" if case.get("language", "ko") == "ko"
                               else f"Next step after case {case['case_number']}.\n\n")
               + case.get("description", ""),
               "company": company,
               "contact": {k: contact[k] for k in ("name", "phone", "email", "preferred_channels", "language")
                           if k in contact},
               "consent": case.get("consent") or {"personal_info": True}}
    payload["description"] = payload["description"][:5000]
    receipt, _ = submit_case(store, payload, idempotency_key=f"follow-up-next:{case['case_id']}:{service_type}",
                             actor=Actor(kind="sme", id="public"), now=now,
                             case_fields={"follows": {"case_id": case["case_id"], "case_number": case["case_number"]}})
    return receipt


# --------------------------------------------------------------------------- reporting


def outcome_report(cases: list[dict]) -> dict:
    """Follow-up answers per institute (the one that resolved the case) and in total."""
    per: dict[str, Counter] = defaultdict(Counter)
    for case in cases:
        outcomes = case.get("follow_up_outcomes") or {}
        if not outcomes:
            continue
        latest = outcomes.get("d90") or outcomes.get("d30")
        code = (case.get("outcome") or {}).get("institute") or case.get("accepted_by") or "(coordinator)"
        for key in (code, "_total"):
            per[key]["answered"] += 1
            per[key][latest["result"]] += 1
            per[key]["licensed"] += bool(latest.get("licensed"))
            per[key]["funded"] += bool(latest.get("funded"))
            per[key]["next_stage"] += bool(latest.get("next_case_number"))
    keys = ("answered", "solved", "partly", "not", "licensed", "funded", "next_stage")
    total = per.pop("_total", Counter())
    return {"total": {k: total[k] for k in keys},
            "by_institute": {code: {k: c[k] for k in keys} for code, c in sorted(per.items())}}
