"""Case intake and the public tracking view: the service functions behind POST/GET /cases."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timedelta

from . import companies, korea
from .directory import load_directory, load_services
from .errors import CaseNotFound, IdempotencyKeyReused
from .events import Actor, CaseEvent, iso, utcnow
from .lifecycle import STATUS_LABELS, EventType, Status
from .models import CaseSubmission, parse_model
from .settings import get_settings
from .store import CaseStore

GUIDANCE_BUSINESS_DAYS = 3


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def body_fingerprint(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _public_receipt(case: dict, token: str) -> dict:
    base = get_settings().public_base_url.rstrip("/")
    return {
        "case_id": case["case_id"], "case_number": case["case_number"], "tracking_token": token,
        "status": case["status"], "guidance_due_at": case["guidance_due_at"], "created_at": case["created_at"],
        "tracking_url": f"{base}/track?case={case['case_id']}&token={token}&lang={case.get('language') or 'ko'}",
    }


def submit_case(store: CaseStore, payload, *, idempotency_key: str | None = None,
                actor: Actor | None = None, now: datetime | None = None,
                case_fields: dict | None = None) -> tuple[dict, bool]:
    """Validate and store a case with its ``case.submitted`` event atomically.

    Returns ``(receipt, created)``; ``created`` is False when an Idempotency-Key replay returned
    the earlier receipt. The same key with a different body raises IdempotencyKeyReused.
    ``case_fields`` are extra attributes stored on the case item in the same transaction (e.g.
    who recorded a phoned-in consent); they may not replace any attribute intake sets itself."""
    fingerprint = body_fingerprint(payload)
    if idempotency_key:
        previous = store.get_idempotency(idempotency_key)
        if previous is not None:
            if previous["body_hash"] != fingerprint:
                raise IdempotencyKeyReused()
            return previous["response"], False
    submission: CaseSubmission = parse_model(CaseSubmission, payload)
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
        store.create_case(case, event, idempotency=idem, company_key=case["company_key"])
    except Exception as exc:
        # Two retries with one key racing: the loser replays the winner's receipt.
        if idempotency_key and getattr(exc, "response", {}).get("Error", {}).get("Code") == \
                "TransactionCanceledException":
            previous = store.get_idempotency(idempotency_key)
            if previous is not None:
                if previous["body_hash"] != fingerprint:
                    raise IdempotencyKeyReused() from None
                return previous["response"], False
        raise
    return receipt, True


def verify_token(case: dict, token: str | None) -> None:
    """A missing or wrong token looks exactly like an unknown case (no existence oracle)."""
    if not token or not hmac.compare_digest(case.get("tracking_token_hash", ""), hash_token(token)):
        raise CaseNotFound()


def load_case_for_sme(store: CaseStore, case_id: str, token: str | None) -> dict:
    """The case for whoever holds its receipt token or a live link token from a notification."""
    from .notify.links import verify_link_token

    try:
        case = store.get_case(case_id)
    except CaseNotFound:
        hash_token(token or "")  # same work either way
        raise
    try:
        verify_token(case, token)
    except CaseNotFound:
        if not verify_link_token(store, case_id, token):
            raise
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
        timeline.append({"type": e["type"], "at": e["at"], "actor": e["actor"]["kind"],
                         "data": _public_event_data(e)})
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
        "referrals": referrals, "handoff": _handoff_view(case), "open_request": case.get("open_request"),
        "outcome": case.get("outcome"), "rating": case.get("rating"),
        "follow_up": _follow_up_view(case),
        "history": timeline,
    }


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
    from .partners import load_partners, partner_code_for, phone_text

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


_PUBLIC_DATA_KEYS = {"channel", "service_type", "guidance_due_at", "institute", "institutes", "partner", "stage",
                     "question", "answer", "summary", "reason_public", "rating", "due_at"}


def _public_event_data(event: dict) -> dict:
    return {k: v for k, v in (event.get("data") or {}).items() if k in _PUBLIC_DATA_KEYS}
