"""Contact verification by one-time code: nothing beyond the receipt goes to an unconfirmed
phone number or e-mail address.

Why: whoever fills in the public form decides where the official sender writes. The receipt must
go (the SME expects it at once; the per-recipient daily cap, sos1379.notify.limits, bounds it),
but status updates, information requests and follow-ups only go to a contact whose owner proved
they receive our messages, by typing back the short code the receipt carried.

How it goes for the SME:

1. The receipt (``case.submitted``) to an unconfirmed contact uses the receipt-with-code template
   (its own approved AlimTalk code): case number, due date, a 6-digit code and the tracking link.
   E-mail and phone get their own codes; each confirms its own channel.
2. The SME opens the tracking page and types the code (``POST /cases/{id}/verify-contact``,
   tracking token required). The matching channel is confirmed: ``contact_verified`` on the case
   and a ``contact.verified`` event in the same transaction.
3. Until then, every other notice to that channel is *held* (a ``HELD#`` item with the queue
   message, history ``notification.attempt`` status ``held``); the tracking page shows the news
   and how many messages wait. The ``contact.verified`` event goes through the outbox to the
   notifier, which sends what was held (still honouring the quiet hours).
4. A lost or expired code: "인증번호 다시 받기" (``POST /cases/{id}/verify-contact/resend``) sends a
   fresh one (``contact.code_requested``), at most ``RESEND_PER_HOUR`` per case, under the daily cap.
5. Counselor-entered cases (1379 call, visit): the counselor confirms the contact with the SME and
   marks it at intake (``verified_channels``) or later (``POST /coordinator/cases/{id}/verify-contact``).

Codes at rest: only a salted PBKDF2-SHA256 hash (``HASH_ITERATIONS``) per code, in
``CASE#{id} / VERIFY#{channel}`` items with the table's TTL; at most ``MAX_LIVE_CODES`` live per
channel (a resend does not void the code already in the SME's inbox), each valid ``CODE_TTL`` and
for ``MAX_TRIES_PER_CODE`` wrong guesses (a wrong guess counts against every live code of the
case). Every attempt computes the same number of hashes (``MAX_COMPARISONS``, padded with dummies)
and compares with ``hmac.compare_digest``, so timing tells neither which code nor how many exist.
At the caps a guesser holding the tracking token has about 5 tries per code and ~10 codes a day
per recipient: under 1 in 10,000 a day, and winning only lets more notices of that one case reach
a number the cap still bounds.

``NOTIFY_VERIFY_CONTACTS`` (template.yaml: ``on``; ``SOS1379_NOTIFY_VERIFY_CONTACTS`` overrides it
on the local stack, the end-to-end suite switches it off like the other abuse limits) turns the
holding and the codes on; the routes work either way.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import ConcurrentUpdate, Conflict, FieldError, RateLimited, ValidationFailed
from .events import Actor, CaseEvent, iso, parse_iso, utcnow
from .lifecycle import EventType
from .store import CaseStore

CHANNELS = ("sms", "email")
CODE_DIGITS = 6
CODE_TTL = timedelta(hours=24)
MAX_LIVE_CODES = 3
MAX_TRIES_PER_CODE = 5
MAX_COMPARISONS = MAX_LIVE_CODES * len(CHANNELS)
HASH_ITERATIONS = 10_000
RESEND_PER_HOUR = 3
COUNSELOR_CHANNELS = ("call_center", "visit")
_CODE = re.compile(r"^[0-9]{%d}$" % CODE_DIGITS)
_SEPARATORS = re.compile(r"[\s-]+")
SME = Actor(kind="sme", id="contact_verification")
_clock = utcnow  # tests replace it (no wall-clock dependence)

#: Event types that reach an unconfirmed contact: the receipt, a code re-send, and the lost-link
#: recovery (a re-issued receipt, only to the contact the request matched, under its own limits).
RECEIPT_LIKE = frozenset({EventType.SUBMITTED, EventType.CODE_REQUESTED, EventType.LINK_REQUESTED})


def enabled() -> bool:
    from .settings import get_settings

    return get_settings().limits.verify_contacts.strip().lower() in ("on", "1", "true", "yes")


def verified_channels(case: dict) -> set[str]:
    return set((case.get("contact_verified") or {}).keys())


def contact_channels(case: dict) -> list[str]:
    """The channels the SME chose and gave an address for (the notifier's channels)."""
    contact = case.get("contact") or {}
    address = {"sms": contact.get("phone"), "email": contact.get("email")}
    return [c for c in CHANNELS if c in (contact.get("preferred_channels") or []) and address.get(c)]


def needs_code(case: dict, channel: str) -> bool:
    return channel not in verified_channels(case)


def _hash(code: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, HASH_ITERATIONS)


def _live(codes: list[dict], now: datetime) -> list[dict]:
    return [c for c in codes if parse_iso(c["expires_at"]) > now and int(c.get("tries", 0)) < MAX_TRIES_PER_CODE]


def _read_codes(store: CaseStore, case_id: str) -> dict[str, dict]:
    return store.contact_codes(case_id)


def _write_codes(store: CaseStore, case_id: str, channel: str, codes: list[dict], rev: int | None) -> None:
    """Put the channel's code list if nobody changed it since ``rev`` was read."""
    expiry = max((parse_iso(c["expires_at"]) for c in codes), default=utcnow()) + timedelta(days=1)
    store.put_contact_codes(case_id, channel, {"codes": codes, "rev": (rev or 0) + 1,
                                               "expires_at": int(expiry.timestamp())}, rev)


def issue_code(store: CaseStore, case_id: str, channel: str, now: datetime, *, rng=secrets) -> str:
    """A new code for ``channel`` of the case; only its salted hash is stored. Keeps the newest
    ``MAX_LIVE_CODES`` live ones (the one already in the inbox stays valid). Returns the code, for
    the message only: callers never log it."""
    code = f"{rng.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = rng.token_bytes(16)
    entry = {"salt": salt.hex(), "hash": _hash(code, salt).hex(), "expires_at": iso(now + CODE_TTL), "tries": 0}
    for _ in range(3):
        current = _read_codes(store, case_id).get(channel)
        codes = _live(list((current or {}).get("codes") or []), now)[-(MAX_LIVE_CODES - 1):] + [entry]
        try:
            _write_codes(store, case_id, channel, codes, int(current["rev"]) if current else None)
            return code
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate()


def _field_error(code: str) -> ValidationFailed:
    messages = {
        "verification_code_format": (f"인증번호는 {CODE_DIGITS}자리 숫자입니다.",
                                     f"The code has {CODE_DIGITS} digits."),
        "verification_code_invalid": ("인증번호가 맞지 않습니다. 문자(카카오톡)나 메일로 받은 번호를 확인해 주세요.",
                                      "That code is not right. Check the number in the text (KakaoTalk) or e-mail "
                                      "we sent."),
        "verification_code_expired": ("인증번호가 만료되었거나 입력 횟수를 넘었습니다. '인증번호 다시 받기'를 눌러 주세요.",
                                      "The code has expired or was entered wrongly too often. Choose 'Send a new "
                                      "code'."),
    }
    ko, en = messages[code]
    return ValidationFailed([FieldError("code", ko, en, code)])


@dataclass(frozen=True)
class Verification:
    verified: list[str]        # every confirmed channel of the case
    newly_verified: list[str]  # confirmed by this request


def parse_code(payload) -> str:
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("body", "객체여야 합니다.", "The body must be a JSON object.", "model_type")])
    errors = [FieldError(name, "알 수 없는 항목입니다.", "Unknown field.", "extra_forbidden")
              for name in sorted(set(payload) - {"code"})]
    raw = payload.get("code")
    code = _SEPARATORS.sub("", raw) if isinstance(raw, str) else ""
    if errors:
        raise ValidationFailed(errors)
    if not _CODE.match(code):
        raise _field_error("verification_code_format")
    return code


def verify_code(store: CaseStore, case: dict, payload, *, now: datetime | None = None) -> Verification:
    """Check a code typed by the SME against the live codes of every unconfirmed channel; a match
    confirms that channel (and releases what was held for it). Raises ValidationFailed (422,
    ``code``) for a malformed, wrong or expired code."""
    code = parse_code(payload)
    now = now or _clock()
    pending = [c for c in contact_channels(case) if needs_code(case, c)]
    if not pending:
        return Verification(sorted(verified_channels(case)), [])
    stored = _read_codes(store, case["case_id"])
    candidates = [(channel, entry) for channel in pending
                  for entry in _live(list((stored.get(channel) or {}).get("codes") or []), now)]
    matched: set[str] = set()
    for i in range(MAX_COMPARISONS):  # the same work whatever exists: no early exit, dummies pad
        channel, entry = candidates[i] if i < len(candidates) else (None, None)
        salt = bytes.fromhex(entry["salt"]) if entry else b"\0" * 16
        expected = bytes.fromhex(entry["hash"]) if entry else b"\0" * 32
        if hmac.compare_digest(_hash(code, salt), expected) and channel:
            matched.add(channel)
    if not matched:
        _count_wrong_guess(store, case["case_id"], stored, now)
        raise _field_error("verification_code_invalid" if candidates else "verification_code_expired")
    return confirm(store, case, sorted(matched), SME, now, delete_codes=True)


def _count_wrong_guess(store: CaseStore, case_id: str, stored: dict[str, dict], now: datetime) -> None:
    for channel, item in stored.items():
        codes = [{**c, "tries": int(c.get("tries", 0)) + 1} for c in item.get("codes") or []]
        try:
            _write_codes(store, case_id, channel, _live(codes, now) or codes, int(item["rev"]))
        except ConcurrentUpdate:
            pass  # a concurrent guess or a new code: that write counted instead


def confirm(store: CaseStore, case: dict, channels: list[str], actor: Actor, now: datetime, *,
            delete_codes: bool = False) -> Verification:
    """Mark ``channels`` confirmed on the case and record ``contact.verified`` (the outbox takes
    it to the notifier, which sends what was held), in one transaction; retried on a concurrent
    change of the case."""
    for _ in range(3):
        already = verified_channels(case)
        new = [c for c in channels if c not in already]
        if not new:
            return Verification(sorted(already), [])
        marks = {**(case.get("contact_verified") or {}),
                 **{c: {"at": iso(now), "by": actor.kind} for c in new}}
        event = CaseEvent(case_id=case["case_id"], type=EventType.CONTACT_VERIFIED, at=iso(now), actor=actor,
                          data={"channels": new, "by": actor.kind})
        extra = store.drop_contact_codes_actions(case["case_id"], new) if delete_codes else []
        try:
            store.update_case(case, {"contact_verified": marks}, events=[event], extra_actions=extra)
            return Verification(sorted(set(marks)), new)
        except ConcurrentUpdate:
            case = store.get_case(case["case_id"])
    raise ConcurrentUpdate()


def confirm_by_counselor(store: CaseStore, case_id: str, payload, actor: Actor, *,
                         now: datetime | None = None) -> Verification:
    """A counselor confirmed the contact with the SME (a 1379 call or a visit): only cases a
    counselor recorded (call_center / visit) may be confirmed this way."""
    if not isinstance(payload, dict) or set(payload) - {"channels"}:
        raise ValidationFailed([FieldError("body", "channels 항목만 보낼 수 있습니다.",
                                           "Only 'channels' may be sent.", "extra_forbidden")])
    channels = payload.get("channels")
    if (not isinstance(channels, list) or not channels or any(c not in CHANNELS for c in channels)
            or len(set(channels)) != len(channels)):
        raise ValidationFailed([FieldError("channels", "sms, email 중 하나 이상을 고르세요.",
                                           "Choose one or more of sms, email.", "channels")])
    case = store.get_case(case_id)
    if case.get("channel") not in COUNSELOR_CHANNELS:
        raise Conflict("Only contacts of cases recorded by a counselor (call center, visit) can be confirmed by "
                       "staff; the SME confirms a web case with the code.",
                       "상담원이 접수한 건(전화, 방문)만 직원이 연락처를 확인 처리할 수 있습니다. 온라인 접수 건은 "
                       "신청인이 인증번호로 확인합니다.")
    return confirm(store, case, sorted(channels), actor, now or _clock())


def request_new_code(store: CaseStore, case: dict, payload, *, now: datetime | None = None) -> dict:
    """The SME asks for a fresh code (tracking token required): records ``contact.code_requested``
    for the unconfirmed channels; the notifier mints and sends the codes. At most
    ``RESEND_PER_HOUR`` per case."""
    from . import ratelimit

    if payload not in (None, {}) and not (isinstance(payload, dict) and set(payload) <= {"channel"}
                                          and payload.get("channel") in CHANNELS):
        raise ValidationFailed([FieldError("channel", "sms 또는 email 중 하나입니다.", "One of sms, email.",
                                           "channel")])
    now = now or _clock()
    wanted = [payload["channel"]] if isinstance(payload, dict) and payload.get("channel") else list(CHANNELS)
    channels = [c for c in contact_channels(case) if c in wanted and needs_code(case, c)]
    if not channels:
        return {"status": "verified", "channels": []}
    try:
        ratelimit.hit(store, "verify-resend", case["case_id"], ratelimit.Limit(RESEND_PER_HOUR, 3600),
                      now.timestamp())
    except RateLimited as exc:
        raise RateLimited(exc.retry_after, "Too many new codes for this request. Please try again later or call 1379.",
                          "인증번호 재발송 요청이 너무 많습니다. 잠시 후 다시 시도하거나 1379로 전화 주세요.") from None
    store.append_event(CaseEvent(case_id=case["case_id"], type=EventType.CODE_REQUESTED, at=iso(now), actor=SME,
                                 data={"channels": channels}))
    return {"status": "sent", "channels": channels}


def public_status(store: CaseStore, case: dict, now: datetime | None = None) -> dict:
    """The tracking page's block: which contact channels are confirmed, which wait for a code, and
    how many messages are held. Channel names and counts only."""
    now = now or _clock()
    verified = sorted(verified_channels(case))
    unconfirmed = [c for c in contact_channels(case) if needs_code(case, c)]
    if unconfirmed and not enabled():
        # holding is off: only a channel with a code out waits for one
        stored = _read_codes(store, case["case_id"])
        unconfirmed = [c for c in unconfirmed if _live(list((stored.get(c) or {}).get("codes") or []), now)]
    return {"verified": verified, "pending": sorted(unconfirmed),
            "held_messages": store.held_notice_count(case["case_id"]) if unconfirmed else 0}
