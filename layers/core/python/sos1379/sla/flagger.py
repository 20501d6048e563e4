"""The scheduled SLA pass: flag at-risk and breached clocks once, alert the staff, keep the index.

Cost follows the cases due, not the table: the pass reads the StatusDue index (GSI1) for open
cases whose key is due before ``now`` + one business day, and each of those case's history (one
partition query). The index key is the case's ``sla_due_at`` (falling back to
``guidance_due_at``), kept as a *lower bound* of the case's true next deadline: pauses and answers
only ever move deadlines later, so a stale key makes a case show up early (it is recomputed here
and its key moved to the right time) but never late. Cases waiting on the SME
(status ``info_requested``) are paused and skipped.

Idempotency: a flag is a history event whose id and time derive from (case, clock, kind, due
time), written with ``attribute_not_exists``, so a second run (or two concurrent runs) cannot
record it twice; only the run that wrote it sends the alert, and marks the event ``alerted_at``
after sending. A run that finds a flag older than ``REALERT_AFTER`` without ``alerted_at`` (the
writer crashed before alerting) sends it then: alerts are at least once, duplicates only after a
crash. ``sla.breached`` is in NOTIFY_EVENTS: the outbox relay brings it to the SME notification
consumer (the delay apology) exactly like any other event.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ..errors import ConcurrentUpdate, is_conditional_failure
from ..events import Actor, CaseEvent, iso, parse_iso
from ..lifecycle import OPEN_STATUSES, EventType, Status
from ..store import CaseStore
from .clocks import (AT_RISK_BUSINESS_DAYS, FIRST_GUIDANCE, ClockState, SlaStatus, add_business_time,
                     sla_status)

log = logging.getLogger("sos1379.sla")

FAR_FUTURE = "9999-12-31T23:59:59.999Z"  # index key of a case with no live clock
REALERT_AFTER = timedelta(minutes=5)
SLA_ACTOR = Actor(kind="system", id="sla")
_FLAG_NAMESPACE = uuid.UUID("6f1c0d1e-5a3b-4c1e-9a49-13790000006a")
FLAGGED_STATUSES = tuple(sorted(s.value for s in OPEN_STATUSES if s != Status.INFO_REQUESTED))


class AlertSink(Protocol):
    def send(self, alert: dict) -> None: ...


class SnsAlertSink:
    """Internal staff alerts on the CoordinatorAlertsTopic. Message attributes ``audience``
    (coordinator | lead) and ``recipient`` let each subscription (e-mail, chat webhook, queue) filter
    what it receives. No personal data: case ids and deadlines only."""

    def __init__(self, topic_arn: str, sns=None) -> None:
        self.topic_arn = topic_arn
        self._sns = sns

    def send(self, alert: dict) -> None:
        if self._sns is None:
            from ..aws import client

            self._sns = client("sns")
        self._sns.publish(TopicArn=self.topic_arn, Message=json.dumps(alert, ensure_ascii=False),
                          Subject=f"[SOS1379] {alert['kind']} {alert.get('case_number', '')}"[:100],
                          MessageAttributes={k: {"DataType": "String", "StringValue": str(alert[k])}
                                             for k in ("audience", "recipient", "kind")})


class MemoryAlertSink:
    """Collects alerts in a list (tests, dry runs, the benchmark)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, alert: dict) -> None:
        self.sent.append(alert)


@dataclass
class FlagRun:
    now: str
    window_until: str
    examined: int = 0
    at_risk: int = 0
    breached: int = 0
    alerts: int = 0
    reindexed: int = 0
    skipped_conflicts: int = 0
    flagged_cases: list[str] = field(default_factory=list)
    handoffs_lapsed: list[str] = field(default_factory=list)  # partner hand-offs sent back to triage

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("now", "window_until", "examined", "at_risk", "breached", "alerts",
                                              "reindexed", "skipped_conflicts", "flagged_cases")}


def flag_event_id(case_id: str, clock: str, kind: str, due_at: str) -> str:
    return uuid.uuid5(_FLAG_NAMESPACE, f"{case_id}|{clock}|{kind}|{due_at}").hex


def window_until(now: datetime) -> datetime:
    """Cases due before this instant are at risk or breached (one business day ahead of now)."""
    return add_business_time(now, AT_RISK_BUSINESS_DAYS)


def index_changes(case: dict, status: SlaStatus) -> dict:
    """Attribute changes that bring the case's index key (and public due time) in line with its
    clocks; {} when already right. Use them in any update_case that moves a clock."""
    nxt = status.next_due_at
    want = iso(nxt) if nxt else FAR_FUTURE
    changes = {}
    # the index key in force (store.items.status_index): no write when it is already right
    if (case.get("sla_due_at") or case.get("guidance_due_at")) != want:
        changes["sla_due_at"] = want
    first = status.first_guidance
    if first.state in (ClockState.RUNNING, ClockState.AT_RISK, ClockState.BREACHED) and \
            case.get("guidance_due_at") != iso(first.due_at):
        changes["guidance_due_at"] = iso(first.due_at)  # the public promise moves with a pause
    return changes


def _alerts_for(case: dict, event: CaseEvent) -> list[dict]:
    base = {"kind": event.type, "case_id": case["case_id"], "case_number": case.get("case_number", ""),
            "clock": event.data["clock"], "due_at": event.data["due_at"], "status": case.get("status"),
            "event_id": event.event_id, "link": f"/coordinator/cases/{case['case_id']}"}
    assignee = case.get("assigned_to")
    alerts = [{**base, "audience": "coordinator", "recipient": assignee or "unassigned"}]
    if event.type == EventType.SLA_BREACHED:  # a breach is escalated to the team lead
        alerts.append({**base, "audience": "lead", "recipient": "lead"})
    return alerts


def _record_flag(store: CaseStore, event: CaseEvent) -> bool:
    """True if this call wrote the flag; False if it already existed."""
    try:
        store.append_event(event)
        return True
    except Exception as exc:
        if is_conditional_failure(exc):
            return False
        raise


def _mark_alerted(store: CaseStore, event: CaseEvent, now: datetime) -> None:
    store.mark_event_alerted(event, iso(now))


def flag_case(store: CaseStore, case: dict, now: datetime, alerts: AlertSink, run: FlagRun,
              history: list[dict] | None = None) -> SlaStatus:
    """Recompute one case's clocks, record new flags, alert, and fix its index key."""
    history = store.history(case["case_id"]) if history is None else history
    status = sla_status(case, history, now)
    existing = {e.get("event_id"): e for e in history if e["type"] in (EventType.SLA_AT_RISK, EventType.SLA_BREACHED)}
    for clock in status.clocks:
        if clock.state == ClockState.BREACHED:
            kind, at = EventType.SLA_BREACHED, clock.breached_at or clock.due_at
        elif clock.state == ClockState.AT_RISK:
            kind, at = EventType.SLA_AT_RISK, clock.at_risk_from
        else:
            continue
        due = iso(clock.due_at)
        event_id = flag_event_id(case["case_id"], clock.name, kind, due)
        event = CaseEvent(event_id=event_id, case_id=case["case_id"], type=kind, at=iso(at),
                          actor=SLA_ACTOR,
                          data={"clock": clock.name, "due_at": due, "recorded_at": iso(now),
                                "assigned_to": case.get("assigned_to"),
                                "public_apology": kind == EventType.SLA_BREACHED and clock.name == FIRST_GUIDANCE})
        previous = existing.get(event_id)
        if previous is None:
            created = _record_flag(store, event)
            if created:
                run.flagged_cases.append(case["case_id"])
                if kind == EventType.SLA_BREACHED:
                    run.breached += 1
                else:
                    run.at_risk += 1
                log.info("sla.flagged", extra={"case_id": case["case_id"], "clock": clock.name, "kind": kind,
                                               "due_at": due})
            should_alert = created
        else:
            event = CaseEvent(**{k: previous[k] for k in ("event_id", "case_id", "type", "at", "actor", "data")})
            recorded = parse_iso(previous.get("data", {}).get("recorded_at", previous["at"]))
            should_alert = not previous.get("alerted_at") and now - recorded >= REALERT_AFTER
        if should_alert:
            for alert in _alerts_for(case, event):
                alerts.send(alert)
                run.alerts += 1
            _mark_alerted(store, event, now)
    changes = index_changes(case, status)
    if changes:
        try:
            store.update_case(case, changes)
            run.reindexed += 1
        except ConcurrentUpdate:
            run.skipped_conflicts += 1  # someone just changed it; the next pass recomputes
    return status


def flag_due_cases(store: CaseStore, now: datetime, alerts: AlertSink) -> FlagRun:
    """One SLA pass at ``now``. Safe to run twice and concurrently: it records nothing new and
    sends no second alert for flags already recorded."""
    until = window_until(now)
    run = FlagRun(now=iso(now), window_until=iso(until))
    for case in store.open_cases_due_before(iso(until), statuses=FLAGGED_STATUSES):
        run.examined += 1
        flag_case(store, case, now, alerts, run)
    log.info("sla.run", extra={k: v for k, v in run.as_dict().items() if k != "flagged_cases"})
    return run


def run_scheduled(now: datetime | None = None, *, store: CaseStore | None = None,
                  alerts: AlertSink | None = None) -> FlagRun:
    """The scheduled entry point: the store and the alert topic from settings."""
    from ..events import utcnow
    from ..settings import get_settings

    store = store or CaseStore(get_settings().cases_table)
    if alerts is None:
        topic = get_settings().sla.alerts_topic_arn
        alerts = SnsAlertSink(topic) if topic else MemoryAlertSink()
    now = now or utcnow()
    run = flag_due_cases(store, now, alerts)
    from ..institutes.partners import lapse_unclaimed  # hand-offs nobody picked up in 2 business days

    run.handoffs_lapsed = lapse_unclaimed(store, now).lapsed
    return run
