"""Two-way hand-offs to the partners: the SME agency's 1357 call center (BIZINFO1357) and the
17 regional Creative Economy Innovation Centers (``CCEI-<REGION>``, one per 시·도).

Reference data: ``data/partners.json`` (code, region, names, public phone and URL), editable
without a code change like the institute directory.

When a case is handed off (by the router or a coordinator), the same transaction writes a
hand-off item ``CASE#{id} / HANDOFF#{partner}`` (status ``pending``) indexed under
``PARTNER#{code}`` in the InstituteStatus index: that is the partner's queue. Partners use the
institute API-key mechanism (``sos1379 institute key create CCEI-DAEJEON``) and the partner API:

- ``GET /partner/handoffs[?status=]`` and ``GET /partner/handoffs/{case_id}``: the case's request
  (no contact details: the SME's third-party consent names the institutes, not the partners; the
  SME was told how to reach the partner);
- ``POST /partner/handoffs/{case_id}/accept``: pickup confirmed; ``case.partner_accepted`` is a
  public event, so the SME's tracking page shows it;
- ``POST /partner/handoffs/{case_id}/return {reason}``: not theirs after all; the case goes back
  to a coordinator (``handed_off -> triaged``, reason ``partner_returned``).

A hand-off nobody picked up within ``PICKUP_BUSINESS_DAYS`` (2, Seoul business days) is lapsed by
the SLA pass (:func:`lapse_unclaimed`, called from ``FlagSlaBreachesFunction``): the case goes to
the coordinators' triage queue (reason ``partner_no_pickup``). Every move is conditional on the
hand-off's status, so a pickup racing the lapse has exactly one winner.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from .. import korea
from ..directory import data_dir
from ..errors import (CaseNotFound, ConcurrentUpdate, FieldError, InvalidTransition, ValidationFailed,
                      is_conditional_failure)
from ..events import Actor, CaseEvent, iso, parse_iso, utcnow
from ..lifecycle import HANDOFF_STATUSES, EventType, Status, check_transition
from ..models import Text, parse_model
from ..store import CaseStore

PICKUP_BUSINESS_DAYS = 2


class Partner(BaseModel):
    code: str
    family: str
    region: str | None = None
    name_ko: str
    name_en: str
    phone: str | None = None
    url: str | None = None
    hours_ko: str | None = None
    hours_en: str | None = None

    def public(self) -> dict:
        return {"code": self.code, "name_ko": self.name_ko, "name_en": self.name_en, "phone": self.phone,
                "url": self.url}


@lru_cache(maxsize=1)
def load_partners() -> dict[str, Partner]:
    raw = json.loads((data_dir() / "partners.json").read_text(encoding="utf-8"))
    return {row["code"]: Partner(**row) for row in raw["partners"]}


def phone_text(partner: Partner | None, language: str) -> str:
    """How the SME calls the partner, for messages and the tracking page: its published number
    with hours, or 1379 (the counselor connects) while the number is not confirmed."""
    if partner is not None and partner.phone:
        hours = partner.hours_en if language == "en" else partner.hours_ko
        return f"{partner.phone} ({hours})" if hours else partner.phone
    return "1379 (we connect you to the center)" if language == "en" else "1379 (센터로 연결해 드립니다)"


def partner_codes() -> list[str]:
    return list(load_partners())


def partner_code_for(handed_off_to: dict | None) -> str | None:
    """The partner's own code for a case's ``handed_off_to`` ({code: BIZINFO1357 | CCEI, region})."""
    handed = handed_off_to or {}
    family = handed.get("code")
    if family == "CCEI":
        code = f"CCEI-{str(handed.get('region') or '').upper()}"
    else:
        code = family
    return code if code in load_partners() else None


def handoff_action(store: CaseStore, case: dict, handed_off_to: dict, at: str) -> list[dict]:
    """The hand-off item to write in the transaction that hands ``case`` off (none when the
    partner has no queue, e.g. a CCEI hand-off of a case without a known region)."""
    code = partner_code_for(handed_off_to)
    if code is None:
        return []
    return [store.handoff_put_action({"case_id": case["case_id"], "partner": code, "status": "pending",
                                      "handed_off_at": at, "updated_at": at, "case_number": case["case_number"],
                                      "title": case.get("title"), "service_type": case.get("service_type")})]


# --------------------------------------------------------------------------- the partner API


class ReturnInput(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    reason: Text(2, 1000)


def authenticate(store: CaseStore, key: str | None) -> str:
    """The partner code of an API key (the institute key mechanism); institute keys are refused."""
    from .keys import authenticate as by_key

    return by_key(store, key, partner=True)


def _load(store: CaseStore, code: str, case_id: str) -> tuple[dict, dict]:
    handoff = store.get_handoff(case_id, code)  # first: a stranger learns nothing from the case read
    if handoff is None:
        raise CaseNotFound()
    return store.get_case(case_id), handoff


def _ref(code: str) -> dict:
    p = load_partners()[code]
    return {"code": code, "name_ko": p.name_ko, "name_en": p.name_en}


def list_handoffs(store: CaseStore, code: str, status: str | None = None) -> list[dict]:
    if status is not None and status not in HANDOFF_STATUSES:
        raise ValidationFailed([FieldError("status", f"허용된 값: {', '.join(HANDOFF_STATUSES)}",
                                           f"Must be one of: {', '.join(HANDOFF_STATUSES)}", "literal_error")])
    items = sorted(store.partner_handoffs(code, status), key=lambda h: h.get("handed_off_at", ""), reverse=True)
    return [{k: h.get(k) for k in ("case_id", "case_number", "status", "title", "service_type", "handed_off_at",
                                   "accepted_at", "updated_at")} for h in items]


def get_handoff(store: CaseStore, code: str, case_id: str) -> dict:
    case, handoff = _load(store, code, case_id)
    company = case.get("company") or {}
    try:
        region_name = korea.normalize_region(company.get("region", "")).name_ko
    except ValueError:
        region_name = None
    return {"handoff": {k: handoff.get(k) for k in ("partner", "status", "handed_off_at", "accepted_at",
                                                      "returned_at", "return_reason", "updated_at")},
            "case": {"case_id": case_id, "case_number": case["case_number"], "status": case["status"],
                     "service_type": case.get("service_type"), "title": case.get("title"),
                     "description": case.get("description"), "language": case.get("language", "ko"),
                     "company": {"name": company.get("name"), "region": company.get("region"),
                                 "region_name": region_name, "size": company.get("size"),
                                 "industry": company.get("industry")}},
            "contact_withheld": True}


def _transact(store: CaseStore, case: dict, changes: dict, events: list[CaseEvent], actions: list[dict]) -> dict:
    try:
        return store.update_case(case, changes, events=events, extra_actions=actions)
    except Exception as exc:  # the hand-off's status moved (a lapse or another call won)
        if is_conditional_failure(exc):
            raise ConcurrentUpdate() from None
        raise


def accept(store: CaseStore, code: str, case_id: str, *, now: datetime | None = None) -> dict:
    case, handoff = _load(store, code, case_id)
    if handoff["status"] == "accepted":
        return {"case_id": case_id, "handoff_status": "accepted", "changed": False}
    if handoff["status"] != "pending" or case["status"] != Status.HANDED_OFF:
        raise InvalidTransition(handoff["status"], "accepted", "hand-off")
    at = iso(now or utcnow())
    event = CaseEvent(case_id=case_id, type=EventType.PARTNER_ACCEPTED, at=at, actor=Actor(kind="institute", id=code),
                      data={"partner": _ref(code)})
    _transact(store, case, {"partner_accepted_at": at, "updated_at": at}, [event],
              [store.handoff_status_action(handoff, "accepted", at, {"accepted_at": at})])
    return {"case_id": case_id, "handoff_status": "accepted", "changed": True}


def return_to_us(store: CaseStore, code: str, case_id: str, payload, *, now: datetime | None = None) -> dict:
    body: ReturnInput = parse_model(ReturnInput, payload)
    case, handoff = _load(store, code, case_id)
    if handoff["status"] not in ("pending", "accepted") or case["status"] != Status.HANDED_OFF:
        raise InvalidTransition(handoff["status"], "returned", "hand-off")
    return _back_to_triage(store, case, handoff, "returned", "partner_returned", now or utcnow(),
                           Actor(kind="institute", id=code), {"returned_at": None, "return_reason": body.reason},
                           body.reason)


def _back_to_triage(store: CaseStore, case: dict, handoff: dict, handoff_status: str, reason: str, now: datetime,
                    actor: Actor, extra: dict, note: str | None = None) -> dict:
    check_transition(case["status"], Status.TRIAGED)
    at = iso(now)
    extra = {k: (at if v is None else v) for k, v in extra.items()}
    event = CaseEvent(case_id=case["case_id"], type=EventType.TRIAGED, at=at, actor=actor,
                      data={"reason": reason, "partner": _ref(handoff["partner"]), **({"note": note} if note else {})})
    routing = {**(case.get("routing") or {}), "reason": reason}
    _transact(store, case, {"status": Status.TRIAGED.value, "routing": routing, "updated_at": at}, [event],
              [store.handoff_status_action(handoff, handoff_status, at, extra)])
    return {"case_id": case["case_id"], "status": Status.TRIAGED.value, "handoff_status": handoff_status}


# --------------------------------------------------------------------------- the SLA pass


@dataclass
class LapseRun:
    examined: int = 0
    lapsed: list[str] = field(default_factory=list)


def lapse_unclaimed(store: CaseStore, now: datetime) -> LapseRun:
    """Hand-offs still pending ``PICKUP_BUSINESS_DAYS`` after they were made go to the triage
    queue. Reads each partner's ``pending`` index range only; safe to run twice (the second run
    finds them lapsed)."""
    run = LapseRun()
    for code in partner_codes():
        for handoff in store.partner_handoffs(code, "pending"):
            run.examined += 1
            due = korea.add_business_days(parse_iso(handoff["handed_off_at"]), PICKUP_BUSINESS_DAYS)
            if now < due:
                continue
            case = store.get_case(handoff["case_id"])
            if case["status"] != Status.HANDED_OFF:
                continue
            try:
                _back_to_triage(store, case, handoff, "lapsed", "partner_no_pickup", now,
                                Actor(kind="system", id="sla"), {"lapsed_at": None})
            except ConcurrentUpdate:
                continue  # picked up (or moved) meanwhile: the next run sees the truth
            run.lapsed.append(handoff["case_id"])
    return run
