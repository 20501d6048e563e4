"""SLA clocks computed from a case's event history: pure functions of (case, history, now).

Two clocks run from the moment a case is received (its ``case.submitted`` instant):

- ``first_guidance``: the public promise, guidance within 3 business days (the same rule intake
  uses for ``guidance_due_at``, so an untouched case breaches exactly at its published due time).
- ``resolution``: ``resolution_target_business_days`` of the case's service type (data in
  ``services.json``, editable without a code change).

Business time is counted in Asia/Seoul: a business day (not a weekend, not a KR public holiday,
substitute holidays and election days included, per ``holidays``) contributes its 24 hours,
other days contribute nothing. That is the measure ``korea.business_days_between`` uses.

What moves a clock, and why:

- ``case.info_requested`` pauses both clocks (the case waits on the SME); ``case.info_provided``
  or any event that moves the case on (referred, accepted, in progress, triaged) resumes them.
  The due time moves later by the business time spent paused. A question is not guidance: it
  pauses the first-guidance clock instead of meeting it, so asking for a photo cannot be used to
  dodge the 3-day promise, and the SME never sees "overdue" while the ball is in their court.
- First guidance is met by the first ``case.guidance_given`` (a coordinator or counselor gave
  advice, e.g. by phone), ``case.resolved`` (an institute or coordinator answered) or
  ``case.handed_off`` (the SME was told which partner handles it), by any actor. An institute's
  ``case.accepted`` is not guidance: the SME has no answer yet.
- Resolution is met by ``case.resolved`` or ``case.handed_off``.
- ``case.closed`` / ``case.withdrawn`` before the clock was met cancel it (excluded from
  compliance figures).
- A clock whose due time passed while running is breached from that instant on; a later answer
  stops it (state ``met``) but ``on_time`` stays False, so reports count it as a miss while the
  queue no longer shows it as overdue.

Events dated after ``now`` are ignored, so computing at a past instant reproduces the past, and a
late-arriving event or a holiday-calendar fix simply changes the result of the next computation.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Iterable

from .. import korea
from ..events import iso, parse_iso
from ..lifecycle import EventType

GUIDANCE_BUSINESS_DAYS = 3           # the public promise (also intake.GUIDANCE_BUSINESS_DAYS)
AT_RISK_BUSINESS_DAYS = 1.0          # "at risk": less than this much business time left
DEFAULT_RESOLUTION_BUSINESS_DAYS = 20  # a service type missing from services.json

FIRST_GUIDANCE = "first_guidance"
RESOLUTION = "resolution"

PAUSE_EVENTS = frozenset({EventType.INFO_REQUESTED})
RESUME_EVENTS = frozenset({EventType.INFO_PROVIDED, EventType.REFERRED, EventType.ACCEPTED,
                           EventType.IN_PROGRESS, EventType.TRIAGED})
GUIDANCE_EVENTS = frozenset({EventType.GUIDANCE_GIVEN, EventType.RESOLVED, EventType.HANDED_OFF})
RESOLUTION_EVENTS = frozenset({EventType.RESOLVED, EventType.HANDED_OFF})
CANCEL_EVENTS = frozenset({EventType.CLOSED, EventType.WITHDRAWN})


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    CANCELLED = "cancelled"


LIVE_STATES = frozenset({ClockState.RUNNING, ClockState.AT_RISK, ClockState.BREACHED})


# --- business-time arithmetic ----------------------------------------------------------------------

def _midnight(day) -> datetime:
    return datetime.combine(day, time(0), korea.SEOUL)


def add_business_time(start: datetime, days: float) -> datetime:
    """``start`` moved by ``days`` of business time (negative: backwards), skipping non-business
    days. The inverse of ``korea.business_days_between`` on business days."""
    if days == 0:
        return start
    remaining = timedelta(days=abs(days))
    cursor = start.astimezone(korea.SEOUL)
    if days > 0:
        while True:
            next_midnight = _midnight(cursor.date() + timedelta(days=1))
            if korea.is_business_day(cursor.date()):
                span = next_midnight - cursor
                if remaining <= span:
                    return cursor + remaining
                remaining -= span
            cursor = next_midnight
    while True:
        day_start = _midnight(cursor.date())
        if cursor == day_start:  # exactly midnight: the previous day is the one to consume
            day_start = _midnight(cursor.date() - timedelta(days=1))
        if korea.is_business_day(day_start.date()):
            span = cursor - day_start
            if remaining <= span:
                return cursor - remaining
            remaining -= span
        cursor = day_start


# --- clocks ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clock:
    name: str
    target_business_days: int
    started_at: datetime
    due_at: datetime                  # paused time included; while paused: the due if resumed now
    state: ClockState
    remaining_business_days: float    # at ``now``; negative once overdue; 0 when stopped
    paused_business_days: float = 0.0
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    stopped_by: str | None = None     # the event type that stopped it

    @property
    def on_time(self) -> bool | None:
        """True/False once met; None while it runs or when it was cancelled."""
        if self.state != ClockState.MET:
            return None
        return self.breached_at is None

    @property
    def at_risk_from(self) -> datetime:
        """The instant less than a business day was left (the deterministic time of the flag)."""
        return max(self.started_at, add_business_time(self.due_at, -AT_RISK_BUSINESS_DAYS))

    def as_dict(self) -> dict:
        return {"name": self.name, "state": self.state.value, "target_business_days": self.target_business_days,
                "started_at": iso(self.started_at), "due_at": iso(self.due_at),
                "remaining_business_days": round(self.remaining_business_days, 3),
                "paused_business_days": round(self.paused_business_days, 3),
                "breached_at": iso(self.breached_at) if self.breached_at else None,
                "stopped_at": iso(self.stopped_at) if self.stopped_at else None,
                "stopped_by": self.stopped_by, "on_time": self.on_time}


def compute_clock(name: str, target_business_days: int, started_at: datetime, history: Iterable[dict],
                  now: datetime, *, stop_events: frozenset[str]) -> Clock:
    """Walk the history in time order and return the clock's state at ``now``."""
    due = korea.add_business_days(started_at, target_business_days)
    paused_since: datetime | None = None
    paused_total = 0.0
    breached_at: datetime | None = None
    events = sorted(history, key=lambda e: e["at"])

    def end_pause(at: datetime) -> None:
        nonlocal paused_since, paused_total, due
        pause = korea.business_days_between(paused_since, at)
        paused_total += pause
        if breached_at is None:  # a breach is a fact: pausing afterwards does not undo it
            due = add_business_time(due, pause)
        paused_since = None

    for event in events:
        at = max(parse_iso(event["at"]), started_at)
        if at > now:
            break
        if paused_since is None and breached_at is None and at > due:
            breached_at = due
        kind = event["type"]
        if kind in stop_events or kind in CANCEL_EVENTS:
            if paused_since is not None:
                end_pause(at)
            state = ClockState.MET if kind in stop_events else ClockState.CANCELLED
            return Clock(name, target_business_days, started_at, due, state, 0.0, paused_total, breached_at,
                         at, kind)
        if kind in PAUSE_EVENTS and paused_since is None:
            paused_since = at
        elif kind in RESUME_EVENTS and paused_since is not None:
            end_pause(at)

    if paused_since is not None:
        paused_now = korea.business_days_between(paused_since, now)
        projected = due if breached_at else add_business_time(due, paused_now)
        remaining = korea.business_days_between(paused_since, due) if breached_at is None else \
            -korea.business_days_between(due, paused_since)
        return Clock(name, target_business_days, started_at, projected, ClockState.PAUSED, remaining,
                     paused_total + paused_now, breached_at)
    if breached_at is None and now >= due:
        breached_at = due
    if breached_at is not None:
        return Clock(name, target_business_days, started_at, due, ClockState.BREACHED,
                     -korea.business_days_between(due, now), paused_total, breached_at)
    remaining = korea.business_days_between(now, due)
    state = ClockState.AT_RISK if remaining < AT_RISK_BUSINESS_DAYS else ClockState.RUNNING
    return Clock(name, target_business_days, started_at, due, state, remaining, paused_total)


@dataclass(frozen=True)
class SlaStatus:
    first_guidance: Clock
    resolution: Clock

    @property
    def clocks(self) -> tuple[Clock, Clock]:
        return self.first_guidance, self.resolution

    @property
    def next_due_at(self) -> datetime | None:
        """The earliest due time of a clock still running (breached ones included: they stay due
        until answered) or paused (its projected due). None when no clock is live."""
        dues = [c.due_at for c in self.clocks if c.state in LIVE_STATES or c.state == ClockState.PAUSED]
        return min(dues) if dues else None

    @property
    def worst_state(self) -> ClockState:
        order = [ClockState.BREACHED, ClockState.AT_RISK, ClockState.RUNNING, ClockState.PAUSED,
                 ClockState.MET, ClockState.CANCELLED]
        return min((c.state for c in self.clocks), key=order.index)

    def as_dict(self) -> dict:
        return {FIRST_GUIDANCE: self.first_guidance.as_dict(), RESOLUTION: self.resolution.as_dict()}


def received_at(case: dict, history: Iterable[dict] = ()) -> datetime:
    for event in history:
        if event["type"] == EventType.SUBMITTED:
            return parse_iso(event["at"])
    return parse_iso(case["created_at"])


def resolution_target(service_type: str, services: dict | None = None) -> int:
    if services is None:
        from ..directory import load_services

        services = load_services()
    service = services.get(service_type)
    return service.resolution_target_business_days if service else DEFAULT_RESOLUTION_BUSINESS_DAYS


def sla_status(case: dict, history: list[dict], now: datetime, *, services: dict | None = None) -> SlaStatus:
    """Both clocks of ``case`` at ``now``, from its history alone."""
    start = received_at(case, history)
    first = compute_clock(FIRST_GUIDANCE, GUIDANCE_BUSINESS_DAYS, start, history, now,
                          stop_events=GUIDANCE_EVENTS)
    resolution = compute_clock(RESOLUTION, resolution_target(case.get("service_type", ""), services), start,
                               history, now, stop_events=RESOLUTION_EVENTS)
    return SlaStatus(first, resolution)


def business_days_to_first_guidance(case: dict, history: list[dict], now: datetime) -> float | None:
    """Business days from receipt to the first guidance (pauses excluded), or None if none yet."""
    clock = sla_status(case, history, now).first_guidance
    if clock.state != ClockState.MET or clock.stopped_at is None:
        return None
    return korea.business_days_between(clock.started_at, clock.stopped_at) - clock.paused_business_days
