"""Case events: the append-only history items, also the outbox the stream relay publishes."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

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

    def message(self) -> dict[str, Any]:
        """The queue message body (see :func:`event_message`)."""
        return event_message({**self.model_dump(), "data": self.data})


def event_message(event: Mapping[str, Any]) -> dict[str, Any]:
    """The one definition of the intake/notify queue message (version 1) of a history event,
    from a CaseEvent or from its table item as the stream relay reads it: ids and event data only,
    never contact details."""
    return {"version": 1, "event_id": event["event_id"], "case_id": event["case_id"], "type": event["type"],
            "at": event["at"], "actor": dict(event["actor"]), "data": event.get("data") or {}}
