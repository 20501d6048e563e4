"""Case intake and the public tracking view: the service functions behind POST/GET /cases."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import datetime, timedelta

from . import companies, korea, verification
from .directory import load_directory, load_services
from .errors import CaseNotFound, FieldError, IdempotencyKeyReused, ValidationFailed, is_conditional_failure
from .events import Actor, CaseEvent, iso, utcnow
from .lifecycle import STATUS_LABELS, EventType, Status
from .models import CaseSubmission, parse_model
from .settings import get_settings
from .store import CaseStore

GUIDANCE_BUSINESS_DAYS = 3


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Compared against when the case does not exist, so an unknown id costs what a wrong token costs.
_DUMMY_TOKEN_HASH = hash_token("no case has this token")
PUBLIC_SCOPE = "public POST /cases"
MAX_IDEMPOTENCY_KEY = 200


def body_fingerprint(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def scoped_idempotency_key(scope: str, key: str | None) -> str | None:
    """The stored key: the client's Idempotency-Key inside its caller's namespace (the public form,
    one staff member, ...), so nobody can replay or pre-claim another caller's key."""
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise ValidationFailed([FieldError(
            "Idempotency-Key", f"Idempotency-Key는 {MAX_IDEMPOTENCY_KEY}자 이하의 인쇄 가능한 ASCII여야 합니다.",
            f"Idempotency-Key must be printable ASCII, at most {MAX_IDEMPOTENCY_KEY} characters.",
            "idempotency_key")])
    return f"{scope}\n{key}"


def _public_receipt(case: dict, token: str) -> dict:
    base = get_settings().public_base_url.rstrip("/")
    return {
        "case_id": case["case_id"], "case_number": case["case_number"], "tracking_token": token,
        "status": case["status"], "guidance_due_at": case["guidance_due_at"], "created_at": case["created_at"],
        "tracking_url": f"{base}/track?case={case['case_id']}&token={token}&lang={case.get('language') or 'ko'}",
    }


def submit_case(store: CaseStore, payload, *, idempotency_key: str | None = None,
                actor: Actor | None = None, now: datetime | None = None,
                case_fields: dict | None = None, model: type[CaseSubmission] = CaseSubmission,
                idempotency_scope: str = PUBLIC_SCOPE) -> tuple[dict, bool]:
    """Validate and store a case with its ``case.submitted`` event atomically.

    Returns ``(receipt, created)``; ``created`` is False when an Idempotency-Key replay returned
    the earlier receipt. The same key with a different body raises IdempotencyKeyReused. Keys
    live in ``idempotency_scope`` (the caller's namespace). The body is validated (``model``; the
    public endpoint passes PublicCaseSubmission, web/mobile only) before anything else, and the fingerprint is taken of the validated case.
    ``case_fields`` are extra attributes stored on the case item in the same transaction (e.g.
    who recorded a phoned-in consent); they may not replace any attribute intake sets itself."""
    submission: CaseSubmission = parse_model(model, payload)
    fingerprint = body_fingerprint(submission.model_dump(mode="json"))
    idempotency_key = scoped_idempotency_key(idempotency_scope, idempotency_key)
    if idempotency_key:
        previous = store.get_idempotency(idempotency_key)
        if previous is not None:
            if previous["body_hash"] != fingerprint:
                raise IdempotencyKeyReused()
            return previous["response"], False
    now = now or utcnow()
    case_id = uuid.uuid4().hex
    token = secrets.token_urlsafe(24)
    due = korea.add_business_days(now, GUIDANCE_BUSINESS_DAYS)
    case = {
        "case_id": case_id, "case_number": store.next_case_number(now), "status": Status.RECEIVED.value,
        "version": 1, "created_at": iso(now), "updated_at": iso(now), "guidance_due_at": iso(due),
        "tracking_token_hash": hash_token(token), **submission.model_dump(mode="json"),
        "language": submission.contact.language,
        "company_key": companies.company_key(submission.company.business_number),
    }
    if case_fields:
        clash = sorted(set(case_fields) & set(case))
        if clash:
            raise ValueError(f"case_fields may not replace intake's own attributes: {clash}")
        case.update(case_fields)
    actor = actor or Actor(kind="sme", id="public")
    event = CaseEvent(case_id=case_id, type=EventType.SUBMITTED, at=iso(now), actor=actor,
                      data={"channel": submission.channel, "service_type": submission.service_type,
                            "guidance_due_at": case["guidance_due_at"]})
    receipt = _public_receipt(case, token)
    # the company's own recent, similar cases (case numbers and scores only): sos1379.companies
    receipt["possible_duplicates"] = companies.possible_duplicates(
        store, case["company_key"], case["title"], case["description"], now)
    idem = None
    if idempotency_key:
        idem = {**store.idempotency_key(idempotency_key), "kind": "idempotency", "body_hash": fingerprint,
                "case_id": case_id, "response": receipt,
                "expires_at": int((now + timedelta(seconds=get_settings().idempotency_ttl_seconds)).timestamp())}
    try:
        store.create_case(case, event, idempotency=idem, company_key=case["company_key"],
                          company_match_text=companies.match_text(case["title"], case["description"]))
    except Exception as exc:
        # Two retries with one key racing: the loser replays the winner's receipt.
        if idempotency_key and is_conditional_failure(exc):
            previous = store.get_idempotency(idempotency_key)
            if previous is not None:
                if previous["body_hash"] != fingerprint:
                    raise IdempotencyKeyReused() from None
                return previous["response"], False
        raise
    return receipt, True


def verify_token(case: dict, token: str | None) -> None:
    """A missing or wrong token looks exactly like an unknown case (no existence oracle)."""
    if not _receipt_token_matches(case, token):
        raise CaseNotFound()


def _receipt_token_matches(case: dict | None, token: str | None) -> bool:
    expected = (case or {}).get("tracking_token_hash") or _DUMMY_TOKEN_HASH
    matches = hmac.compare_digest(expected, hash_token(token or ""))
    return bool(token) and case is not None and matches


def load_case_for_sme(store: CaseStore, case_id: str, token: str | None) -> dict:
    """The case for whoever holds its receipt token or a live link token from a notification.

    Constant work for a failure: an unknown case id and a known one with a wrong token both
    read the case item, compare a token hash (against a dummy when there is no case) and look
    the token up as a link token; only then is CaseNotFound raised (the same 404 either way)."""
    from .notify.links import verify_link_token

    try:
        case: dict | None = store.get_case(case_id)
    except CaseNotFound:
        case = None
    if _receipt_token_matches(case, token):
        return case
    linked = verify_link_token(store, case_id, token)
    if case is None or not linked:
        raise CaseNotFound()
    return case


def public_view(store: CaseStore, case: dict) -> dict:
    """What the SME sees: status, timeline, referrals, open requests. No internal notes, no
    coordinator identities, contact details masked."""
    directory = load_directory()
    services = load_services()
    history = [e for e in store.history(case["case_id"]) if e.get("visibility") == "public"]
    lang = case.get("language", "ko")
    timeline = []
    for e in history:
        if e["type"] == EventType.NOTIFICATION:
            continue
        timeline.append({"type": e["type"], "at": e["at"], "actor": _public_actor(e.get("actor")),
                         "data": _public_event_data(e, case)})
    referrals = [{"institute": r["institute"], "name_ko": directory[r["institute"]].name_ko
                  if r["institute"] in directory else r["institute"],
                  "name_en": directory[r["institute"]].name_en if r["institute"] in directory else r["institute"],
                  "status": r["status"]} for r in store.referrals(case["case_id"])]
    service = services.get(case["service_type"])
    ko, en = STATUS_LABELS.get(case["status"], (case["status"], case["status"]))
    return {
        "case_id": case["case_id"], "case_number": case["case_number"], "status": case["status"],
        "status_label": {"ko": ko, "en": en}, "language": lang,
        "title": case["title"], "description": case["description"], "channel": case["channel"],
        "service_type": case["service_type"],
        "service_name": {"ko": service.name_ko, "en": service.name_en} if service else None,
        "created_at": case["created_at"], "updated_at": case.get("updated_at"),
        "guidance_due_at": case["guidance_due_at"],
        "company": {"name": case["company"]["name"], "region": case["company"]["region"]},
        "contact": {"phone": korea.mask_phone(case["contact"]["phone"]),
                    "email": korea.mask_email(case["contact"]["email"]),
                    "preferred_channels": case["contact"]["preferred_channels"]},
        "referrals": referrals, "handoff": _handoff_view(case),
        "open_request": _allowed(case.get("open_request"), _PUBLIC_REQUEST, case),
        "outcome": _allowed(case.get("outcome"), _PUBLIC_OUTCOME, case),
        "rating": _allowed(case.get("rating"), _PUBLIC_RATING, case),
        "follow_up": _follow_up_view(case),
        "reservations": _reservations_view(store, case),
        # which contact channels are confirmed, which wait for the code, how many notices wait
        "contact_verification": verification.public_status(store, case),
        "history": timeline,
    }


def _reservations_view(store: CaseStore, case: dict) -> list[dict]:
    from .equipment.service import case_reservations

    return case_reservations(store, case["case_id"])


def _follow_up_view(case: dict) -> dict | None:
    """Check-ins sent and answered (sos1379.followups), and the cases this one is linked to."""
    sent = sorted(case.get("follow_ups") or {})
    answered = case.get("follow_up_outcomes") or {}
    if not sent and not case.get("follows") and not case.get("next_cases"):
        return None
    return {"pending_stage": next((s for s in sent if s not in answered), None),
            "answered": {s: {k: o.get(k) for k in ("result", "licensed", "funded", "next_case_number")}
                         for s, o in answered.items()},
            "follows": (case.get("follows") or {}).get("case_number"), "next_cases": case.get("next_cases") or []}


def _handoff_view(case: dict) -> dict | None:
    """The hand-off partner and how to reach it (tracking page: name, phone, web site)."""
    from .institutes.partners import load_partners, partner_code_for, phone_text

    partner = case.get("handed_off_to")
    if not partner:
        return None
    if isinstance(partner, str):
        partner = {"code": partner}
    code = partner_code_for(partner)
    entry = load_partners().get(code) if code else None
    return {"code": code or partner.get("code"),
            "name_ko": partner.get("name_ko") or (entry.name_ko if entry else partner.get("code")),
            "name_en": partner.get("name_en") or (entry.name_en if entry else partner.get("code")),
            "phone": (entry.phone if entry else None) or "1379", "url": entry.url if entry else None,
            "phone_text": {"ko": phone_text(entry, "ko"), "en": phone_text(entry, "en")},
            "accepted": bool(case.get("partner_accepted_at"))}



# The public view is an allow-list, never a deny-list: only these keys, each with its own shape,
# ever reach the SME. Text content (question, answer, summary, comment) passes as written; every
# other value must look like what the service itself writes there (a timestamp, a channel, a score,
# an institute code whose names are looked up again), so a staff identity (who asked, who
# resolved, who assigned, an institute user) cannot ride along in any position.
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_SLUG = re.compile(r"^[a-z][a-z_]{0,39}$")
_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{1,31}$")


def _text(value, case):
    return value if isinstance(value, str) else None


def _timestamp(value, case):
    return value if isinstance(value, str) and _TIMESTAMP.match(value) else None


def _slug(value, case):
    return value if isinstance(value, str) and _SLUG.match(value) else None


def _score(value, case):
    return value if type(value) is int and 1 <= value <= 5 else None


_RESERVATION_KEYS = ("reservation_id", "equipment_id", "equipment_name", "slot_start", "slot_end", "status")


def _reservation_data(value) -> dict | None:
    """An equipment reservation in a history event: ids, the instrument's name, the times."""
    if not isinstance(value, dict):
        return None
    out = {k: value[k] for k in _RESERVATION_KEYS if isinstance(value.get(k), str)}
    slot = value.get("previous_slot")
    if isinstance(slot, dict):
        out["previous_slot"] = {k: slot[k] for k in ("start", "end") if isinstance(slot.get(k), str)}
    return out or None


def _one_of(*allowed):
    return lambda value, case: value if value in allowed else None


def _ref(value, case):
    """An institute or partner by code; its names come from the directory or the partner list,
    not from the record (a record's own names are kept only for a code neither knows)."""
    from .institutes.partners import load_partners
    from .referrals.fanout import partner_for

    code = value.get("code") if isinstance(value, dict) else value
    if not isinstance(code, str) or not _CODE.match(code):
        return None
    entry = load_directory().get(code) or load_partners().get(code)
    if entry is not None:
        return {"code": code, "name_ko": entry.name_ko, "name_en": entry.name_en}
    ref = {k: v for k, v in partner_for(code, case).items() if k in ("code", "name_ko", "name_en")}
    if isinstance(value, dict) and ref.get("name_ko") == code:
        ref.update({k: value[k] for k in ("name_ko", "name_en") if isinstance(value.get(k), str)})
    return ref


def _refs(value, case):
    items = value if isinstance(value, list) else [value]
    return [r for r in (_ref(v, case) for v in items) if r is not None]


_PUBLIC_DATA = {"channel": _one_of("web", "mobile", "call_center", "visit", "partner"),
                "service_type": _one_of("tech_consult", "equipment", "tech_transfer", "investment", "tech_upgrade"),
                "guidance_due_at": _timestamp, "due_at": _timestamp, "institute": _ref, "institutes": _refs,
                "partner": _ref, "stage": _one_of("d30", "d90"), "question": _text, "answer": _text, "summary": _text, "reason_public": _text,
                "rating": _score, "reservation": lambda v, case: _reservation_data(v)}
_PUBLIC_REQUEST = {"question": _text, "asked_at": _timestamp, "due_at": _timestamp, "institute": _ref}
_PUBLIC_OUTCOME = {"summary": _text, "resolved_at": _timestamp, "result": _slug, "institute": _ref}
_PUBLIC_RATING = {"score": _score, "comment": _text, "rated_at": _timestamp}
_PUBLIC_DATA_KEYS = frozenset(_PUBLIC_DATA)
_PUBLIC_ACTOR_KINDS = frozenset({"sme", "system", "institute", "counselor", "coordinator", "lead"})


def _public_actor(actor) -> str:
    """Only the kind of actor (a role), never who: staff ids and institute users stay internal."""
    kind = actor.get("kind") if isinstance(actor, dict) else None
    return kind if kind in _PUBLIC_ACTOR_KINDS else "staff"


def _allowed(mapping, shapes: dict, case: dict) -> dict | None:
    if not isinstance(mapping, dict):
        return None
    out = {k: shapes[k](v, case) for k, v in mapping.items() if k in shapes}
    return {k: v for k, v in out.items() if v is not None}


def _public_event_data(event: dict, case: dict) -> dict:
    return _allowed(event.get("data") or {}, _PUBLIC_DATA, case) or {}
