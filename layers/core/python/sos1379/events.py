"""Case events: the append-only history items, also the outbox the stream relay publishes.

Plain dataclasses, not pydantic models: every path imports this module (the store writes these
items), and the outbox relay, which only copies table items to queues, then needs no pydantic at
all. Events are built by the service code itself, never from outside input; what comes from a
queue is parsed by the message models of sos1379.messages."""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from .lifecycle import INTAKE_EVENTS, INTERNAL_EVENTS, NOTIFY_EVENTS, EventType


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


ActorKind = Literal["sme", "system", "institute", "counselor", "coordinator", "lead"]
_ACTOR_KINDS = frozenset(get_args(ActorKind))


@dataclass
class Actor:
    kind: ActorKind
    id: str = "-"

    def __post_init__(self) -> None:
        if self.kind not in _ACTOR_KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}")

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}


def _new_event_id() -> str:
    return uuid.uuid4().hex


def _now_iso() -> str:
    return iso(utcnow())


@dataclass(kw_only=True)
class CaseEvent:
    event_id: str = field(default_factory=_new_event_id)
    case_id: str
    type: str
    at: str = field(default_factory=_now_iso)
    actor: Actor = field(default_factory=lambda: Actor(kind="system", id="sos1379"))
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.type = str(self.type)  # an EventType member is stored as its plain value
        if isinstance(self.actor, Mapping):  # an event read back from the table
            self.actor = Actor(**self.actor)

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

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "case_id": self.case_id, "type": self.type, "at": self.at,
                "actor": self.actor.as_dict(), "data": self.data}

    def message(self):
        """This event as the intake/notify queue message (a sos1379.messages.CaseMessage)."""
        from .messages import CaseMessage

        return CaseMessage.of_event(self.as_dict())


# --------------------------------------------------------------------------- wire bodies
#
# What the relay puts on the queues, defined here once: the message models of sos1379.messages
# build their instances from these bodies (``of_event``), and the relay sends them as they are,
# without loading pydantic. The order of the keys is the wire format (institutes' and partners'
# developers consume these queues; tests/unit/test_message_contract.py pins the bytes).


def case_message_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The intake/notify queue message, version 1, of a history event (a CaseEvent's fields or its
    table item as the stream relay reads it): ids and event data only, never contact details."""
    actor = event["actor"]
    return {"version": 1, "event_id": event["event_id"], "case_id": event["case_id"], "type": event["type"],
            "at": event["at"], "actor": {"kind": actor["kind"], "id": actor.get("id", "-")},
            "data": event.get("data") or {}}


def case_message_json(event: Mapping[str, Any]) -> str:
    return json.dumps(case_message_body(event), ensure_ascii=False)


def handoff_message_body(event: Mapping[str, Any], partner: str) -> dict[str, Any]:
    """``handoff.v1`` for the ``case.handed_off`` history item ``event``, to ``partner`` (its queue code)."""
    return {"version": 1, "type": "handoff.v1", "handoff_id": event["event_id"], "case_id": event["case_id"],
            "partner": partner, "handed_off_at": event["at"], "api_path": f"/partner/handoffs/{event['case_id']}"}


def handoff_message_json(event: Mapping[str, Any], partner: str) -> str:
    return json.dumps(handoff_message_body(event, partner))

