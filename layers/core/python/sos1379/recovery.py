"""Lost-link recovery: ``POST /cases/recover`` with a case number and the phone or email on file
sends a fresh tracking link to that contact.

- **No enumeration.** The answer is the same 202 whether or not anything matched, and the work is
  the same: two reads (the case-number lookup and a case read, of a dummy key when the number is
  unknown), the rate counters, and one write (the ``case.link_requested`` event on a match, an
  audit item with a TTL otherwise).
- **The link goes only to the contact on file**, never to an address typed in the request: a
  match by phone sends to the phone (AlimTalk / SMS), a match by email to the email. The event
  goes through the outbox and the notifier like every notice (idempotent per event and channel,
  AlimTalk with fallback); the notifier mints a new link token. Existing links stay valid: a lost
  link is not a stolen one.
- **Rate limits**, per case number and per client (source IP), in fixed one-hour windows
  (DynamoDB counters with a TTL). Over a limit the answer is 429 for a known and an unknown case
  number alike.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import korea
from .errors import CaseNotFound, FieldError, RateLimited, ValidationFailed
from .events import Actor, CaseEvent, iso, utcnow
from .lifecycle import EventType
from .store import CaseStore

CASE_NUMBER = re.compile(r"^\d{6}-\d{4}$")
ACTOR = Actor(kind="sme", id="link_recovery")


@dataclass(frozen=True)
class RecoveryLimits:
    per_case_per_hour: int = 3
    per_client_per_hour: int = 20


ACCEPTED = {"status": "accepted",
            "message_ko": "입력하신 정보가 접수 건과 일치하면 등록된 연락처로 새 진행 조회 링크를 보내드립니다.",
            "message_en": "If the details match a request, we send a new tracking link to the contact on file."}


@dataclass(frozen=True)
class RecoveryRequest:
    case_number: str
    channel: str  # sms | email
    contact: str  # normalised: E.164 phone or lower-cased email


def parse_request(payload) -> RecoveryRequest:
    """``{case_number, phone}`` or ``{case_number, email}``; every bad field reported at once."""
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("body", "객체여야 합니다.", "The body must be a JSON object.", "model_type")])
    errors = []
    unknown = sorted(set(payload) - {"case_number", "phone", "email"})
    for name in unknown:
        errors.append(FieldError(name, "알 수 없는 항목입니다.", "Unknown field.", "extra_forbidden"))
    number = payload.get("case_number")
    if not isinstance(number, str) or not CASE_NUMBER.match(number.strip()):
        errors.append(FieldError("case_number", "접수번호 형식이 올바르지 않습니다(예: 261126-0007).",
                                 "Invalid case number (e.g. 261126-0007).", "case_number"))
    phone, email = payload.get("phone"), payload.get("email")
    channel = contact = ""
    if (phone in (None, "")) == (email in (None, "")):
        errors.append(FieldError("phone", "휴대전화 번호 또는 이메일 중 하나를 입력하세요.",
                                 "Give either the mobile number or the email address.", "contact_required"))
    elif phone not in (None, ""):
        try:
            contact, channel = korea.normalize_mobile(str(phone)), "sms"
        except ValueError:
            errors.append(FieldError("phone", "휴대전화 번호가 올바르지 않습니다(예: 010-1234-5678).",
                                     "Invalid Korean mobile number (e.g. 010-1234-5678).", "phone"))
    else:
        text = str(email).strip()
        if not isinstance(email, str) or len(text) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
            errors.append(FieldError("email", "이메일 주소가 올바르지 않습니다.", "Invalid email address.", "email"))
        contact, channel = text.casefold(), "email"
    if errors:
        raise ValidationFailed(errors)
    return RecoveryRequest(case_number=number.strip(), channel=channel, contact=contact)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _count(store: CaseStore, scope: str, subject: str, limit: int, now: datetime) -> None:
    """One hit on a fixed one-hour window counter; RateLimited past ``limit``."""
    expires = int((now + timedelta(hours=2)).timestamp())
    if not store.count_link_request(scope, subject, now.strftime("%Y%m%d%H"), limit, expires):
        retry = 3600 - (now.minute * 60 + now.second)
        raise RateLimited(max(1, retry), "Too many link requests. Please try again later or call 1379.",
                          "링크 재발송 요청이 너무 많습니다. 잠시 후 다시 시도하거나 1379로 전화 주세요.")


def request_link(store: CaseStore, payload, *, client_id: str, now: datetime | None = None,
                 limits: RecoveryLimits = RecoveryLimits()) -> dict:
    """Check the request, count it, and when the contact matches the case on file record the
    ``case.link_requested`` event (the notifier sends the new link). Returns the one answer body."""
    request = parse_request(payload)
    now = now or utcnow()
    _count(store, "case", request.case_number, limits.per_case_per_hour, now)
    _count(store, "client", client_id or "unknown", limits.per_client_per_hour, now)
    case = _find(store, request.case_number)
    on_file = ""
    if case is not None:
        contact = case.get("contact") or {}
        on_file = contact.get("phone", "") if request.channel == "sms" else str(contact.get("email", "")).casefold()
    matched = hmac.compare_digest(_digest(on_file or "-"), _digest(request.contact)) and case is not None
    if matched:
        store.append_event(CaseEvent(case_id=case["case_id"], type=EventType.LINK_REQUESTED, at=iso(now), actor=ACTOR,
                                     data={"channels": [request.channel]}))
    else:
        # the same one write as a match, so timing tells nothing; nothing personal is kept
        store.record_link_request_miss(request.case_number, now, int((now + timedelta(days=1)).timestamp()))
    return dict(ACCEPTED)


def _find(store: CaseStore, case_number: str) -> dict | None:
    try:
        case_id = store.find_case_id_by_number(case_number)
    except CaseNotFound:
        case_id = "0" * 32  # read a key that does not exist: the same work as a known number
    try:
        return store.get_case(case_id)
    except CaseNotFound:
        return None
