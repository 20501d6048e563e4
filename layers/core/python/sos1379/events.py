"""Case events: the append-only history items, also the outbox the stream relay publishes."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .lifecycle import INTAKE_EVENTS, INTERNAL_EVENTS, NOTIFY_EVENTS, EventType


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Actor(BaseModel):
    kind: Literal["sme", "system", "institute", "counselor", "coordinator", "lead"]
    id: str = "-"


class CaseEvent(BaseModel):
    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    case_id: str
    type: str
    at: str = Field(default_factory=lambda: iso(utcnow()))
    actor: Actor = Actor(kind="system", id="sos1379")
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def visibility(self) -> str:
        return "internal" if self.type in INTERNAL_EVENTS else "public"

    @property
    def publish_to(self) -> list[str]:
        """Queues the outbox relay sends this event to (``intake``, ``notify``, ``partner``)."""
        targets = []
        if self.type in INTAKE_EVENTS:
            targets.append("intake")
        if self.type in NOTIFY_EVENTS:
            targets.append("notify")
        if self.type == EventType.HANDED_OFF:
            targets.append("partner")  # the partner's own hand-off queue (sos1379.outbox)
        return targets

    def message(self) -> "CaseMessage":
        """This event as the intake/notify queue message."""
        return CaseMessage.of_event(self.model_dump())


# --------------------------------------------------------------------------- queue messages
#
# The queue messages SOS 1379 sends, defined once here: producers build these models and consumers
# parse an SQS record's body into them at the handler edge (``from_body``), so services receive
# typed objects. A body that is not JSON or does not fit the model raises ``MalformedMessage``: the
# record fails alone (partial batch response) and, after the queue's maxReceiveCount, waits in its
# DLQ. What goes on the wire is fixed (institutes' and partners' developers consume these queues;
# docs/ and events/schemas/ describe them): ``to_json`` renders exactly what earlier versions sent,
# and tests/unit/test_message_contract.py pins it. The referral message (``referral.v1``, per
# institute) is sos1379.referrals.message.ReferralMessageV1, whose JSON Schema is published.


def _parse(model, body: Any):
    from pydantic import ValidationError

    from .errors import MalformedMessage

    try:
        if isinstance(body, (str, bytes, bytearray)):
            return model.model_validate_json(body)
        return model.model_validate(body)
    except ValidationError as exc:
        # where and what kind, never the rejected values (they may be personal data)
        problems = sorted({f"{'.'.join(str(p) for p in e['loc']) or '(body)'}:{e['type']}" for e in exc.errors()})
        raise MalformedMessage(model.__name__, problems) from None


class CaseMessage(BaseModel):
    """Intake and notify queue message, version 1: one history event, ids and event data only, never
    contact details. The relay sends it for the events of ``CaseEvent.publish_to``; route_case and
    notify_sme consume it, deduplicating on ``event_id``. ``deliver_after`` appears only on the
    copies the notifier re-queues itself during quiet hours. Unknown fields are kept (a v1 message
    may gain optional fields) and travel on with a re-queued copy."""

    model_config = ConfigDict(extra="allow")

    version: Literal[1] = 1
    event_id: str = Field(min_length=1)
    case_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    at: str
    actor: Actor = Actor(kind="system", id="sos1379")
    data: dict[str, Any] = Field(default_factory=dict)
    deliver_after: str | None = None

    @classmethod
    def of_event(cls, event: Mapping[str, Any]) -> "CaseMessage":
        """From a CaseEvent's fields or its table item as the stream relay reads it."""
        return cls(event_id=event["event_id"], case_id=event["case_id"], type=event["type"], at=event["at"],
                   actor=event["actor"], data=event.get("data") or {})

    @classmethod
    def from_body(cls, body: str | bytes | Mapping[str, Any]) -> "CaseMessage":
        """Parse an SQS body (or an already decoded one); ``MalformedMessage`` if it does not fit."""
        if isinstance(body, cls):
            return body
        return _parse(cls, body)

    def wire(self) -> dict[str, Any]:
        """The body as a dict: ``deliver_after`` only when set."""
        return self.model_dump(exclude={"deliver_after"} if self.deliver_after is None else None)

    def to_json(self) -> str:
        return json.dumps(self.wire(), ensure_ascii=False)


class HandoffMessageV1(BaseModel):
    """``handoff.v1`` (events/schemas/handoff.v1.json), on the partner's own queue: which case was
    handed to whom and when; the partner reads the request through its API. No contact details, no
    staff notes. Partners deduplicate on ``handoff_id`` (a retried stream record may send twice)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal[1] = 1
    type: Literal["handoff.v1"] = "handoff.v1"
    handoff_id: str = Field(min_length=1)
    case_id: str = Field(min_length=1)
    partner: str = Field(pattern=r"^(BIZINFO1357|CCEI-[A-Z]+)$")
    handed_off_at: str
    api_path: str

    @classmethod
    def of_event(cls, event: Mapping[str, Any], partner: str) -> "HandoffMessageV1":
        """For the ``case.handed_off`` history item ``event``, to ``partner`` (its queue code)."""
        return cls(handoff_id=event["event_id"], case_id=event["case_id"], partner=partner,
                   handed_off_at=event["at"], api_path=f"/partner/handoffs/{event['case_id']}")

    @classmethod
    def from_body(cls, body: str | bytes | Mapping[str, Any]) -> "HandoffMessageV1":
        return _parse(cls, body)

    def to_json(self) -> str:
        return json.dumps(self.model_dump())


class ScheduledRun(BaseModel):
    """The input of a scheduled function: EventBridge's event, whose ``time`` is the run's instant
    (a retried invocation recomputes the same one), or a drill's ``{"now": ISO}``, which wins.
    Other fields (``month``, ``source``, ...) are the function's own."""

    model_config = ConfigDict(extra="allow")

    time: str | None = None
    now: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any] | None) -> "ScheduledRun":
        return _parse(cls, event or {})

    @property
    def instant(self) -> datetime | None:
        """The run's ``now``; None when neither is given (the service then uses the clock)."""
        when = self.now or self.time
        return parse_iso(when) if when else None
