"""The SME notifier: one notification-queue message in, at most one SMS and one email out.

Flow for a message (a case event from lifecycle.NOTIFY_EVENTS, or a deferred copy of one):

1. Read the case (messages carry no contact details) and pick the channels the SME chose.
2. Quiet hours: a non-urgent event between 21:00 and 08:00 Asia/Seoul goes back on the queue with
   a ``deliver_after`` instant (08:00) and hops in DelaySeconds <= 900 chunks until then.
3. Per channel, ``deliver`` runs under Powertools idempotency keyed on (case, event, channel), and
   inside it a durable *marker* item ``NOTIFY#{event_id}#{channel}`` in the cases table:

   - claim: put the marker ``state=sending`` (conditional on absence) together with a ``queued``
     history entry, in one transaction, BEFORE calling the provider;
   - call the provider;
   - settle: marker ``sending -> sent`` with the provider's message id, plus the ``sent`` history
     entry, in one transaction.

   A redelivery first reads the marker: ``sent`` or ``failed_permanent`` -> nothing is sent again;
   ``sending`` -> an earlier attempt died during or right after the provider call (the crash
   window Powertools alone cannot cover: it saves its result only after the function returns).
   The notifier then does NOT send again and records the attempt as sent, unconfirmed: for this
   narrow window it prefers at most once (a doubled SMS is what the promise forbids). Known
   rejections (permanent or transient) remove any doubt, so they settle or release the claim.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from .. import korea, verification
from ..directory import load_directory
from ..errors import CaseNotFound
from ..events import Actor, CaseEvent, iso, parse_iso, utcnow
from ..messages import CaseMessage
from ..lifecycle import EventType
from ..store import CaseStore
from . import limits
from .channels import EmailSender, PermanentSendError, TextMessage, TextSender, TransientSendError
from .links import TrackingLinks, mint_link
from .quiet import next_hop_seconds, release_at
from ..settings import NotifySettings
from .templates import QUESTION_MAX_CHARS, Rendered, Templates

CHANNELS = ("sms", "email")
ACTOR = Actor(kind="system", id="notify_sme")
#: The receipt to a contact not yet confirmed: the same news plus a one-time code (its own
#: approved AlimTalk template, notifications.toml).
RECEIPT_WITH_CODE = "case.submitted:verify"


class NotifyTransientError(Exception):
    """At least one channel failed transiently: the message must be retried (already-sent
    channels are not sent again)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


@dataclass
class ChannelOutcome:
    channel: str
    status: str  # sent | failed_permanent | suppressed | duplicate | skipped
    reason: str = ""
    provider_message_id: str = ""
    route: str = ""
    fallback_reason: str = ""


def text_message(job: dict) -> TextMessage:
    """The phone-channel job as the provider-neutral message (AlimTalk form + SMS/LMS fallback)."""
    from .templates import Button

    return TextMessage(recipient=job["recipient"], alimtalk_code=job.get("alimtalk_code", ""),
                       alimtalk_text=job.get("alimtalk_text", ""),
                       template_parameter=dict(job.get("template_parameter") or {}),
                       buttons=tuple(Button(b["name"], b["mobile"], b["pc"], b.get("type", "WL"))
                                     for b in job.get("buttons") or []),
                       text_kind=job.get("text_kind", "sms"), text=job["text"], subject=job.get("subject", ""),
                       reference=f"{job['case_id']}:{job['event_id']}")


@dataclass
class Outcome:
    case_id: str
    event_id: str
    event_type: str
    action: str  # sent | deferred | duplicate | ignored | held | released
    channels: list[ChannelOutcome] = field(default_factory=list)
    deliver_after: str | None = None
    held: list[str] = field(default_factory=list)  # channels waiting for contact verification
    released: int = 0  # held notices sent on (or re-queued) after a contact.verified event


def mask_recipient(channel: str, value: str) -> str:
    return korea.mask_phone(value) if channel == "sms" else korea.mask_email(value)


def chosen_channels(case: dict) -> list[str]:
    """The channels the SME chose and gave an address for (never one they did not choose)."""
    contact = case.get("contact") or {}
    preferred = contact.get("preferred_channels") or []
    address = {"sms": contact.get("phone"), "email": contact.get("email")}
    return [c for c in CHANNELS if c in preferred and address.get(c)]


def _format_due(value: str | None, language: str) -> str:
    if not value:
        return ""
    local = parse_iso(value).astimezone(korea.SEOUL)
    if language == "en":
        return local.strftime("%a %d %b %H:%M KST").replace(" 0", " ")
    weekday = "월화수목금토일"[local.weekday()]
    return f"{local.month}월 {local.day}일({weekday}) {local:%H:%M}"


def _institute_names(codes: list[str], language: str) -> str:
    directory = load_directory()
    names = [directory[c].name(language) if c in directory else c for c in codes]
    return ", ".join(names)


def _bounded(text: str, limit: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def personalise(case: dict, message: CaseMessage, links: TrackingLinks, templates: Templates,
                language: str) -> dict[str, str]:
    """The variable values for one event, in ``language``. Nothing here is contact data, and
    nothing is text the submitter typed (title, company name): only the case number, dates,
    directory names, partner contacts, links, and institute-written text (bounded)."""
    from ..institutes.partners import load_partners, partner_code_for, phone_text

    data = message.data or {}
    institutes = data.get("institutes") or ([data["institute"]] if data.get("institute") else []) \
        or list(case.get("referred_to") or [])
    if isinstance(institutes, str):
        institutes = [institutes]
    # The hand-off event carries the partner as {code, name_ko, name_en} (the regional CCEI is
    # named after the company's region); a bare code is accepted too.
    raw_partner = data.get("partner") or ""
    partner_info = raw_partner if isinstance(raw_partner, dict) else {"code": str(raw_partner)}
    partner_code = str(partner_info.get("code") or "")
    directory = load_directory()
    partner_family = "CCEI" if partner_code.startswith("CCEI") else partner_code
    named = partner_info.get("name_en" if language == "en" else "name_ko")
    partner = named or (directory[partner_family].name(language) if partner_family in directory else partner_code)
    known = partner_code_for(partner_info) or (partner_code if partner_code in load_partners() else None)
    contact = load_partners().get(known) if known else None
    answer_due = _format_due(data.get("due_at"), language) if message.type == EventType.INFO_REQUESTED else ""
    if answer_due:
        answer_due = f"■ 답변 기한: {answer_due}\n" if language != "en" else f"- Please answer by: {answer_due}\n"
    missed = data.get("due_at") or case.get("guidance_due_at")
    new_due = data.get("new_due_at")
    if not new_due and message.type == EventType.SLA_BREACHED:
        # the apology names a new date: one business day after the breach was recorded
        new_due = iso(korea.add_business_days(parse_iso(message.at), 1))
    return {
        "case_number": case["case_number"],
        "link": links.short_url, "link_pc": links.tracking_url, "survey_link": links.survey_short_url,
        "due_date": _format_due(data.get("guidance_due_at") or case.get("guidance_due_at"), language),
        "institute": _institute_names([str(c) for c in institutes], language),
        "question": _bounded(data.get("question") or "", QUESTION_MAX_CHARS), "answer_due": answer_due,
        "partner": partner, "partner_phone": phone_text(contact, language),
        "partner_url": (contact.url if contact else "") or "",
        "missed_date": _format_due(missed, language), "new_date": _format_due(new_due, language),
        **_reservation_values(case, data.get("reservation"), links, language),
    }


def _reservation_values(case: dict, reservation, links: TrackingLinks, language: str) -> dict[str, str]:
    """``equipment``, ``slot`` and ``calendar_link`` of an equipment event (empty otherwise). The
    calendar link carries this notification's link token, like the tracking link."""
    if not isinstance(reservation, dict) or not reservation.get("reservation_id"):
        return {}
    slot = _format_due(reservation.get("slot_start"), language)
    if reservation.get("slot_end"):
        slot += "~" + parse_iso(reservation["slot_end"]).astimezone(korea.SEOUL).strftime("%H:%M")
    base = links.tracking_url.split("/track?", 1)[0]
    return {"equipment": _bounded(reservation.get("equipment_name") or "", 60), "slot": slot,
            "calendar_link": f"{base}/cases/{case['case_id']}/reservations/{reservation['reservation_id']}"
                             f"/calendar.ics?token={links.token}"}


class Notifier:
    """Sends the notifications for queue messages. Collaborators come in through the constructor
    (store, senders, templates, the re-enqueue function, the clock) so tests swap any of them."""

    def __init__(self, store: CaseStore, sms: TextSender, email: EmailSender, templates: Templates,
                 settings: NotifySettings, requeue: Callable[[dict, int], None],
                 clock: Callable[[], datetime] = utcnow,
                 idempotent: Callable[[Callable[..., dict]], Callable[..., dict]] | None = None) -> None:
        self.store = store
        self.sms = sms
        self.email = email
        self.templates = templates
        self.settings = settings
        self.requeue = requeue
        self.clock = clock
        # Powertools @idempotent_function applied to deliver (see sos1379.notify.runtime)
        self._deliver = idempotent(self.deliver) if idempotent else self.deliver

    # --- one message ------------------------------------------------------------------------------
    def handle(self, message: CaseMessage) -> Outcome:
        """One notification-queue message (parsed at the handler edge, sos1379.events)."""
        outcome = Outcome(message.case_id, message.event_id, message.type, "ignored")
        if message.type == EventType.CONTACT_VERIFIED:
            return self._release_held(message, outcome)
        if not self.templates.knows(message.type):
            return outcome
        try:
            case = self.store.get_case(message.case_id)
        except CaseNotFound:
            return outcome
        channels = chosen_channels(case)
        if message.type in (EventType.LINK_REQUESTED, EventType.CODE_REQUESTED):
            # lost-link recovery: only the contact on file that the request matched; a new code:
            # only the channels asked for that are still unconfirmed
            contact = case.get("contact") or {}
            address = {"sms": contact.get("phone"), "email": contact.get("email")}
            channels = [c for c in CHANNELS if c in (message.data or {}).get("channels", []) and address.get(c)]
            if message.type == EventType.CODE_REQUESTED:
                channels = [c for c in channels if verification.needs_code(case, c)]
        now = self.clock()
        if channels and verification.enabled() and message.type not in verification.RECEIPT_LIKE:
            # beyond the receipt, only confirmed contacts hear from us (sos1379.verification)
            outcome.held = [c for c in channels if verification.needs_code(case, c)]
            if outcome.held:
                self._hold(message, outcome.held, case, now)
                channels = [c for c in channels if c not in outcome.held]
                outcome.action = "held"
        if not channels:
            return outcome
        deferred = self._defer_if_quiet(message, now, channels, case)
        if deferred is not None:
            outcome.action, outcome.deliver_after = "deferred", deferred
            return outcome

        settled = self._settled_channels(case["case_id"], message.event_id)
        pending = [c for c in channels if c not in settled]
        if not pending:  # a redelivery of a message already handled: no new link, nothing sent
            outcome.action = "duplicate"
            return outcome
        language = (case.get("contact") or {}).get("language") or case.get("language") or "ko"
        links = mint_link(self.store, case["case_id"], now, self.settings.link_ttl_days, language=language)
        values = personalise(case, message, links, self.templates, language)
        rendered = self.templates.render(message.type, language, values)
        outcome.action = "sent"
        transient: list[str] = []
        for channel in pending:
            template = self._code_template(message, case, channel)
            if template:
                # a fresh one-time code for this channel (only its hash is stored; never logged)
                code = verification.issue_code(self.store, case["case_id"], channel, now)
                expires = _format_due(iso(now + verification.CODE_TTL), language)
                job = self._job(case, message, channel, self.templates.render(
                    template, language, {**values, "code": code, "code_expires": expires}))
            else:
                job = self._job(case, message, channel, rendered)
            try:
                result = self._deliver(job=job)
            except TransientSendError as exc:
                transient.append(f"{channel}:{exc.code}")
                continue
            outcome.channels.append(ChannelOutcome(channel, result["status"], result.get("reason", ""),
                                                   result.get("provider_message_id", ""), result.get("route", ""),
                                                   result.get("fallback_reason", "")))
        if transient:
            raise NotifyTransientError(transient)
        return outcome

    def _code_template(self, message: CaseMessage, case: dict, channel: str) -> str | None:
        """The template carrying a verification code, when this channel's message needs one: the
        receipt to an unconfirmed contact (while verification is on), and every code re-send."""
        if message.type == EventType.CODE_REQUESTED:
            return message.type
        if message.type == EventType.SUBMITTED and verification.enabled() \
                and verification.needs_code(case, channel) and self.templates.knows(RECEIPT_WITH_CODE):
            return RECEIPT_WITH_CODE
        return None

    # --- contact verification: held notices ---------------------------------------------------------
    def _hold(self, message: CaseMessage, channels: list[str], case: dict, now: datetime) -> None:
        """Keep the notice for an unconfirmed contact until it is confirmed (once per event and
        channel: a redelivery or a deferred copy finds it held already)."""
        contact = case.get("contact") or {}
        address = {"sms": contact.get("phone", ""), "email": contact.get("email", "")}
        body = json.dumps({**message.model_dump(), "deliver_after": None}, ensure_ascii=False)
        for channel in channels:
            notice = {"channel": channel, "event_type": message.type, "event_id": message.event_id,
                      "message": body, "held_at": iso(now),
                      "expires_at": int(now.timestamp()) + self.settings.link_ttl_days * 86400}
            event = self._attempt_event(message.case_id, now, channel=channel, event_type=message.type,
                                        event_id=message.event_id, status="held", reason="contact_unverified",
                                        recipient=mask_recipient(channel, address[channel]))
            self.store.hold_notice(message.case_id, message.event_id, channel, notice, event)  # False: held already

    def _release_held(self, message: CaseMessage, outcome: Outcome) -> Outcome:
        """``contact.verified``: handle every notice held for the confirmed channels again (they go
        now, or at 08:00 after the quiet hours), then forget them. A failure leaves them held and
        the event is retried; the markers keep every notice to one delivery."""
        confirmed = set((message.data or {}).get("channels") or [])
        by_event: dict[str, list[dict]] = {}
        for item in self.store.held_notices(message.case_id):
            if item.get("channel") in confirmed:
                by_event.setdefault(str(item["event_id"]), []).append(item)
        for items in by_event.values():
            self.handle(CaseMessage.from_body(items[0]["message"]))
            for item in items:
                self.store.forget_held_notice(item)
            outcome.released += 1
        outcome.action = "released"
        return outcome

    def _job(self, case: dict, message: CaseMessage, channel: str, rendered: Rendered) -> dict:
        contact = case["contact"]
        job = {"case_id": case["case_id"], "event_id": message.event_id, "event_type": message.type,
               "channel": channel, "language": rendered.language}
        if channel == "sms":
            job.update(recipient=contact["phone"], text=rendered.text, text_kind=rendered.text_kind,
                       text_bytes=rendered.text_bytes, subject=rendered.text_subject,
                       alimtalk_code=rendered.alimtalk_code, alimtalk_text=rendered.alimtalk_text,
                       template_parameter=rendered.template_parameter,
                       buttons=[{"name": b.name, "type": b.type, "mobile": b.mobile, "pc": b.pc}
                                for b in rendered.buttons])
        else:
            job.update(recipient=contact["email"], subject=rendered.email_subject, text=rendered.email_body)
        return job

    # --- quiet hours ------------------------------------------------------------------------------
    def _defer_if_quiet(self, message: CaseMessage, now: datetime, channels: list[str],
                        case: dict) -> str | None:
        """Return the deliver-after instant when the message must wait, after re-enqueueing it."""
        if message.deliver_after:
            deliver_after = parse_iso(message.deliver_after)
            if deliver_after <= now:
                return None
            first = False
        else:
            if self.templates.urgent(message.type):
                return None
            release = release_at(now, self.settings.quiet_start_hour, self.settings.quiet_end_hour)
            if release is None:
                return None
            deliver_after, first = release, True
        delay = next_hop_seconds(now, deliver_after, self.settings.defer_chunk_seconds)
        self.requeue(message.model_copy(update={"deliver_after": iso(deliver_after)}).wire(), delay)
        if first:
            contact = case.get("contact") or {}
            address = {"sms": contact.get("phone", ""), "email": contact.get("email", "")}
            for channel in channels:
                self.store.append_event(self._attempt_event(
                    message.case_id, now, channel=channel, event_type=message.type, event_id=message.event_id,
                    status="deferred", reason="quiet_hours", recipient=mask_recipient(channel, address[channel]),
                    deliver_after=iso(deliver_after)))
        return iso(deliver_after)

    # --- one channel, idempotent ------------------------------------------------------------------
    def deliver(self, job: dict) -> dict:
        """Send one channel's message unless a durable marker says it was already handled.

        Returns a JSON-safe result without personal data (Powertools stores it)."""
        masked = mask_recipient(job["channel"], job["recipient"])
        marker = self._marker(job)
        if marker is not None:
            return self._settled(job, marker, masked)
        now = self.clock()
        claim_id = uuid.uuid4().hex
        claim = {"claim_id": claim_id, "channel": job["channel"], "event_type": job["event_type"],
                 "claimed_at": iso(now), "expires_at": int(now.timestamp()) + self.settings.link_ttl_days * 86400}
        queued = self._attempt_event(job["case_id"], now, channel=job["channel"], event_type=job["event_type"],
                                     event_id=job["event_id"], status="queued", recipient=masked)
        if not self.store.claim_notice(job["case_id"], job["event_id"], job["channel"], claim, queued):
            current = self._marker(job) or {"state": "sending"}
            # Our own claim, applied by an earlier try whose answer was lost (botocore retried the
            # transaction): it is still ours to send. Anything else: a concurrent delivery won.
            if current.get("claim_id") != claim_id:
                return self._settled(job, current, masked)

        suppressed = limits.suppression_reason(self.store, job, now)  # the one abuse check (notify.limits)
        if suppressed:
            self._settle(job, limits.SUPPRESSED, masked, reason=suppressed)
            return {"status": limits.SUPPRESSED, "reason": suppressed, "recipient": masked}
        try:
            if job["channel"] == "sms":
                result = self.sms.send(text_message(job))
            else:
                result = self.email.send_email(job["recipient"], job["subject"], job["text"])
        except PermanentSendError as exc:
            self._settle(job, "failed_permanent", masked, reason=exc.code, provider=exc.provider)
            return {"status": "failed_permanent", "reason": exc.code, "recipient": masked}
        except TransientSendError as exc:
            # the provider did not take it: release the claim so the retry sends
            event = self._attempt_event(job["case_id"], self.clock(), channel=job["channel"],
                                        event_type=job["event_type"], event_id=job["event_id"],
                                        status="failed_temporary", reason=exc.code, recipient=masked,
                                        provider=exc.provider)
            # (False: the claim had moved on meanwhile; the retry then finds the marker settled)
            self.store.release_notice_claim(job["case_id"], job["event_id"], job["channel"], event)
            raise
        self._settle(job, "sent", masked, provider=result.provider, message_id=result.message_id,
                     route=result.route, fallback_reason=result.fallback_reason)
        return {"status": "sent", "provider_message_id": result.message_id, "recipient": masked,
                "route": result.route, "fallback_reason": result.fallback_reason}

    def _settled(self, job: dict, marker: dict, masked: str) -> dict:
        state = marker.get("state")
        if state == "sending" and self._claim_is_live(marker):
            # another execution holds the claim right now (Powertools normally stops this first)
            raise DeliveryInProgress(job["channel"])
        if state == "sending":
            # An earlier attempt died between claiming and settling: the provider may well have
            # accepted the message. Never send twice; record it as sent, unconfirmed.
            self._settle(job, "sent", masked, reason="unconfirmed_after_interruption", provider="unknown",
                         message_id="")
            return {"status": "sent", "reason": "unconfirmed_after_interruption", "recipient": masked,
                    "duplicate": True}
        return {"status": state, "reason": marker.get("reason", ""), "recipient": masked,
                "provider_message_id": marker.get("provider_message_id", ""), "duplicate": True}

    def _settle(self, job: dict, status: str, masked: str, *, reason: str = "", provider: str = "",
                message_id: str = "", route: str = "", fallback_reason: str = "") -> None:
        now = self.clock()
        # route: how this one delivery went (alimtalk | sms | lms | email); a fallback is part of it
        event = self._attempt_event(job["case_id"], now, channel=job["channel"], event_type=job["event_type"],
                                    event_id=job["event_id"], status=status, reason=reason, recipient=masked,
                                    provider=provider, provider_message_id=message_id, route=route,
                                    fallback=bool(fallback_reason) or None, fallback_reason=fallback_reason,
                                    alimtalk_code=job.get("alimtalk_code"),
                                    language=job.get("language"), text_kind=job.get("text_kind"),
                                    text_bytes=job.get("text_bytes"))
        outcome = {"state": status, "settled_at": iso(now), "provider": provider, "provider_message_id": message_id,
                   "reason": reason, "route": route, "fallback_reason": fallback_reason}
        # False: a concurrent attempt settled it first; its history entry stands
        self.store.settle_notice(job["case_id"], job["event_id"], job["channel"], outcome, event)

    # --- helpers ----------------------------------------------------------------------------------
    def _claim_is_live(self, marker: dict) -> bool:
        """A claim younger than the function timeout may belong to a running execution; an older
        one was left by an execution that died (Lambda would have stopped it by then)."""
        claimed = marker.get("claimed_at")
        if not claimed:
            return False
        return (self.clock() - parse_iso(claimed)).total_seconds() < self.settings.claim_timeout_seconds

    def _settled_channels(self, case_id: str, event_id: str) -> set[str]:
        """Channels of this event already sent or permanently failed: one Query over the markers."""
        return {item["channel"] for item in self.store.notice_markers(case_id, event_id)
                if item.get("state") in ("sent", "failed_permanent", limits.SUPPRESSED)}

    def _marker(self, job: dict) -> dict | None:
        return self.store.notice_marker(job["case_id"], job["event_id"], job["channel"])

    @staticmethod
    def _attempt_event(case_id: str, at: datetime, **data: Any) -> CaseEvent:
        return CaseEvent(case_id=case_id, type=EventType.NOTIFICATION, at=iso(at), actor=ACTOR,
                         data={k: v for k, v in data.items() if v not in (None, "")})


class DeliveryInProgress(Exception):
    """A live claim of another execution: retry the message later."""


def backoff_seconds(receive_count: int, base: int = 30, cap: int = 900) -> int:
    """Visibility timeout before the next try of a transiently failed message: exponential with
    full jitter, capped at SQS's 900 s DelaySeconds-like horizon (12 h is the API limit)."""
    ceiling = min(cap, base * 2 ** max(0, receive_count - 1))
    return max(base // 2, int(random.uniform(0, ceiling)))


def requeue_message(queue_url: str) -> Callable[[dict, int], None]:
    """The re-enqueue function for deferred messages: a new message with DelaySeconds."""
    from ..aws import client

    def send(body: dict, delay: int) -> None:
        client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body, ensure_ascii=False),
                                   DelaySeconds=max(0, min(900, delay)),
                                   MessageAttributes={"event_type": {"DataType": "String",
                                                                     "StringValue": body["type"]}})

    return send
