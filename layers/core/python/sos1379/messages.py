"""The queue messages SOS 1379 sends and receives, as pydantic models.

Producers build these models and consumers parse an SQS record's body into them at the handler
edge (``from_body``), so services receive typed objects. A body that is not JSON or does not fit
the model raises ``MalformedMessage``: the record fails alone (partial batch response) and, after
the queue's maxReceiveCount, waits in its DLQ. What goes on the wire is fixed (institutes' and
partners' developers consume these queues; docs/ and events/schemas/ describe them): the bodies are
defined once, in sos1379.events (``case_message_body``, ``handoff_message_body``, which the outbox
relay sends without loading pydantic), ``of_event`` builds a model from them, ``to_json`` renders
exactly what earlier versions sent, and tests/unit/test_message_contract.py pins it. The referral
message (``referral.v1``, per institute) is sos1379.referrals.message.ReferralMessageV1, whose JSON
Schema is published.

This module is what loads pydantic on a consumer's path: the handlers that parse every record
(route_case, notify_sme) and the scheduled functions import it; the relay and the store do not.
Each model is built on its first use (``defer_build``): a path builds only the one it parses, and
route_case and notify_sme pay for CaseMessage's validator on their first record, not at import
(``sos1379 bench imports`` reports that "import + first record" figure beside the import)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .events import Actor, case_message_body, handoff_message_body, parse_iso


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

    model_config = ConfigDict(extra="allow", defer_build=True)

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
        return cls.model_validate(case_message_body(event))

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

    model_config = ConfigDict(extra="ignore", defer_build=True)

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
        return cls.model_validate(handoff_message_body(event, partner))

    @classmethod
    def from_body(cls, body: str | bytes | Mapping[str, Any]) -> "HandoffMessageV1":
        return _parse(cls, body)

    def to_json(self) -> str:
        return json.dumps(self.model_dump())


class ScheduledRun(BaseModel):
    """The input of a scheduled function: EventBridge's event, whose ``time`` is the run's instant
    (a retried invocation recomputes the same one), or a drill's ``{"now": ISO}``, which wins.
    Other fields (``month``, ``source``, ...) are the function's own."""

    model_config = ConfigDict(extra="allow", defer_build=True)

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
