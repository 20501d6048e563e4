"""Referral fan-out: route a case from an intake event, record the decision, send the referrals.

``route_case_event`` consumes ``case.submitted`` and ``case.route_requested`` (the intake queue,
fed by the outbox relay) and does two things, in this order:

1. One ``update_case`` transaction records everything the decision implies: the ``case.routed``
   event (ranked institutes + reasons), the routing summary on the case, the status move with its
   event (``case.referred`` / ``case.handed_off`` / ``case.triaged``), one referral item per target
   institute, and the intake event id in ``routing_events``. Either all of it exists or none.
2. After the commit, one :class:`~sos1379.referrals.message.ReferralMessageV1` per new referral is
   sent to that institute's queue (``REFERRAL_QUEUE_PREFIX + CODE``) and the referral is marked
   ``message_sent``.

Why send after the transaction instead of through the stream outbox: the message carries data the
relay does not have (contact details when consented, evidence, the per-institute routing reasons)
and the institute queues are addressed per referral, not per event type; building it in the relay
would put routing knowledge into the generic outbox. The dual write is closed instead by making
the send *repeatable and recognisable*:

- the referral item is the durable intent: it is committed before any send, with
  ``message_sent = false`` and a deterministic ``referral_id`` (uuid5 of case, institute and the
  intake event id);
- if the process dies between the commit and the send, the intake message is not deleted, SQS
  redelivers it, and the replay finds its event id in ``routing_events``: it routes nothing again
  and only (re)sends the referrals of that event still marked unsent;
- if it dies after the send but before the flag, the replay sends the same message again with the
  same ``referral_id``: institutes deduplicate on it (the documented contract, docs/institutes.md);
- if the intake message exhausts its retries, it waits in the intake DLQ for a redrive, and
  :func:`resend_unsent` (``sos1379 institute resend-unsent``) finds unsent referrals through the
  InstituteStatus index as a last repair path.

So a redelivered intake event never creates a second referral (the event id is recorded in the same
transaction) and never a second message unless the first send's outcome was unknown, in which case
the copy is byte-for-byte the same referral.

Catalog evidence: the catalog is queried once per routed event (``catalog_evidence``; nothing on a
replay) and the same hits serve twice: the router scores with them (they add to the owning
institute's score and appear in its reasons) and each referral carries the ones the router
counted for its institute. No snapshot, or a failing catalog, means no hits: routing is then
exactly what it is without a catalog.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..directory import load_directory
from ..errors import ConcurrentUpdate, InvalidTransition
from ..events import Actor, CaseEvent, iso, utcnow
from ..messages import CaseMessage
from ..lazy import lazy_module
from ..lifecycle import INTAKE_EVENTS, EventType, Status, check_transition
from ..routing.evidence import EVIDENCE_LIMIT
from ..settings import get_settings
from ..store import CaseStore
from .message import ReferralMessageV1

logger = logging.getLogger(__name__)
# only a hand-off (a minority of decisions) needs the partner side and its API models
partners = lazy_module("sos1379.institutes.partners")

ROUTER_ACTOR = Actor(kind="system", id="router")
RANKING_RECORDED = 5          # institutes kept in the routing summary and the case.routed event
EVIDENCE_PER_REFERRAL = 3
ROUTING_EVENTS_KEPT = 50      # processed intake event ids remembered on the case
MAX_AUTOMATIC_REROUTES = 3    # after this many declines a coordinator decides, not the router
ACTIVE_REFERRAL_STATUSES = frozenset({"referred", "accepted"})
_REFERRAL_NS = uuid.UUID("5b0c1379-0000-4000-8000-000000001379")
_PARTNER_BIZINFO = "BIZINFO1357"
_PARTNER_CCEI = "CCEI"

Evidence = Callable[[str, int], list[dict]]


class Ranking(Protocol):
    """A plain ranking of institutes for a case (coordinator tools, test doubles)."""

    def route(self, inp, *, exclude: Iterable[str] = ...) -> Any: ...


class CaseRouter(Protocol):
    """What route_case asks of a router: a ranking that scores with the case's catalog hits, and
    which of those hits it counted for each institute (the evidence a referral carries).
    sos1379.routing.Router is one; :class:`RankingOnly` makes one of a plain :class:`Ranking`."""

    def route(self, inp, *, exclude: Iterable[str] = ..., evidence: Iterable[dict] | None = None) -> Any: ...

    def evidence_for(self, hits: Iterable[dict]) -> dict: ...


@dataclass(frozen=True)
class RankingOnly:
    """A plain ranking as a :class:`CaseRouter`: it ranks without the catalog hits, and the hits
    that count per institute follow the default router settings (same floor and depth)."""

    ranking: Ranking

    def route(self, inp, *, exclude: Iterable[str] = (), evidence: Iterable[dict] | None = None) -> Any:
        return self.ranking.route(inp, exclude=exclude)

    def evidence_for(self, hits: Iterable[dict]) -> dict:
        from ..routing import RouterConfig
        from ..routing.evidence import evidence_by_institute

        cfg = RouterConfig()
        return evidence_by_institute(hits, floor=cfg.evidence_floor, depth=cfg.evidence_depth)


def as_case_router(router: CaseRouter | Ranking) -> CaseRouter:
    """The router as route_case uses it: sos1379.routing.Router (and RankingOnly) as they are, any
    other ranking wrapped in :class:`RankingOnly`."""
    from ..routing import Router

    return router if isinstance(router, (Router, RankingOnly)) else RankingOnly(router)


@dataclass
class RouteOutcome:
    """What one intake event did (the handler turns it into metrics and a log line)."""

    case_id: str
    event_id: str
    decision: str                       # refer | handoff | coordinator | skipped
    targets: list[str] = field(default_factory=list)
    replay: bool = False                # the event had been processed already
    sent: int = 0                       # referral messages sent by this call
    reason: str | None = None


def referral_id_for(case_id: str, institute: str, trigger_event_id: str) -> str:
    """Deterministic: a replay of the same intake event names the same referral."""
    return uuid.uuid5(_REFERRAL_NS, f"{case_id}:{institute}:{trigger_event_id}").hex


def queue_name(code: str) -> str:
    return f"{get_settings().referral_queue_prefix}{code}"


# --------------------------------------------------------------------------- sending


class ReferralSender:
    """Sends referral messages to the per-institute queues (URLs looked up once per code)."""

    def __init__(self, sqs=None) -> None:
        if sqs is None:
            from ..aws import client

            sqs = client("sqs")
        self.sqs = sqs
        self._urls: dict[str, str] = {}

    def queue_url(self, code: str) -> str:
        name = queue_name(code)
        if name not in self._urls:
            self._urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._urls[name]

    def send(self, message: ReferralMessageV1) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url(message.institute),
            MessageBody=message.model_dump_json(),
            MessageAttributes={
                "schema": {"DataType": "String", "StringValue": "referral.v1"},
                "referral_id": {"DataType": "String", "StringValue": message.referral_id},
                "case_id": {"DataType": "String", "StringValue": message.case_id},
            })


def build_message(case: dict, referral: dict) -> ReferralMessageV1:
    """The v1 message for one referral item of ``case``; contact only with the SME's consent."""
    from ..korea import normalize_region

    company = case.get("company") or {}
    try:
        region_name = normalize_region(company.get("region", "")).name_ko
    except ValueError:
        region_name = None
    consent = (case.get("consent") or {}).get("share_with_institutes") is True
    contact = None
    if consent and case.get("contact"):
        c = case["contact"]
        contact = {"name": c["name"], "phone": c["phone"], "email": c["email"],
                   "language": c.get("language", "ko"), "preferred_channels": c.get("preferred_channels", [])}
    base = f"/institute/referrals/{case['case_id']}"
    return ReferralMessageV1(
        referral_id=referral["referral_id"], case_id=case["case_id"], case_number=case["case_number"],
        institute=referral["institute"], referred_at=referral["referred_at"],
        respond_by=case["guidance_due_at"], service_type=case["service_type"],
        language=case.get("language", "ko"), title=case["title"], description=case["description"],
        company={"name": company.get("name", ""), "region": company.get("region", ""), "region_name": region_name,
                 "size": company.get("size", "small"), "industry": company.get("industry")},
        routing=referral.get("routing") or {"score": 0.0, "rank": 1, "reasons": []},
        evidence=referral.get("evidence") or [],
        contact=contact, contact_withheld=contact is None,
        api={"self": base, "accept": f"{base}/accept", "decline": f"{base}/decline",
             "request_info": f"{base}/request-info", "resolve": f"{base}/resolve"})


def mark_sent(store: CaseStore, case_id: str, institute: str, referral_id: str, at: str) -> None:
    """Flag the referral as sent, unless it was replaced by a newer referral in the meantime."""
    store.mark_referral_sent(case_id, institute, referral_id, at)


def deliver(store: CaseStore, case: dict, referrals: Iterable[dict], sender: ReferralSender,
            now: datetime | None = None) -> int:
    """Send every still-unsent referral of ``referrals``; returns how many were sent. A failed send
    raises (after the earlier ones were flagged), so the intake message is retried."""
    sent = 0
    for referral in referrals:
        if referral.get("message_sent") or referral.get("status") != "referred":
            continue
        sender.send(build_message(case, referral))
        mark_sent(store, case["case_id"], referral["institute"], referral["referral_id"], iso(now or utcnow()))
        sent += 1
        logger.info("referral sent", extra={"case_id": case["case_id"], "institute": referral["institute"],
                                            "referral_id": referral["referral_id"]})
    return sent


def resend_unsent(store: CaseStore, codes: Iterable[str], *, older_than_seconds: int = 300,
                  sender: ReferralSender | None = None, now: datetime | None = None) -> int:
    """Repair path: send referrals still marked unsent ``older_than_seconds`` after they were made
    (the intake retries normally do it first). Reads the InstituteStatus index, never scans."""
    now = now or utcnow()
    cutoff = iso(now - timedelta(seconds=older_than_seconds))
    sender = sender or ReferralSender()
    sent = 0
    for code in codes:
        for referral in store.institute_referrals(code, "referred"):
            if referral.get("message_sent") or referral.get("referred_at", "") > cutoff:
                continue
            case = store.get_case(referral["case_id"])
            sent += deliver(store, case, [referral], sender, now)
    return sent


# --------------------------------------------------------------------------- routing


def routing_input(case: dict):
    from ..routing import RoutingInput

    return RoutingInput(title=case.get("title", ""), text=case.get("description", ""),
                        service_type=case.get("service_type"), channel=case.get("channel"),
                        region=(case.get("company") or {}).get("region"), lang=case.get("language", "ko"))


def _default_router() -> CaseRouter:
    from ..routing import get_router

    return get_router()


def catalog_evidence(text: str, limit: int) -> list[dict]:
    """Catalog hits for the case text, or nothing when the catalog is not available: evidence
    enriches a routing and a referral, it must never block one."""
    from ..routing.evidence import catalog_hits

    return catalog_hits(text, limit)


def _case_text(case: dict) -> str:
    return f"{case.get('title', '')}\n{case.get('description', '')}"


def _route(router: CaseRouter, inp, exclude: Iterable[str], hits: list[dict]):
    return router.route(inp, exclude=exclude, evidence=hits) if hits else router.route(inp, exclude=exclude)


def _evidence_by_institute(hits: list[dict], codes: set[str], router: CaseRouter) -> dict[str, list[dict]]:
    """Per target: the hits the router counted for it (same floor and depth), best first."""
    if not hits:
        return {}
    counted = router.evidence_for(hits)
    return {code: [{"type": str(h.get("type") or "item"), "id": str(h.get("id") or ""),
                    "title": str(h.get("title") or ""), "link": h.get("link") or h.get("url")}
                   for h in counted[code].hits[:EVIDENCE_PER_REFERRAL]]
            for code in codes if code in counted}


def partner_for(code: str, case: dict) -> dict:
    """The hand-off partner, named for the SME: the CCEI is the one of the company's region."""
    from ..korea import normalize_region

    directory = load_directory()
    if code == _PARTNER_CCEI:
        try:
            region = normalize_region((case.get("company") or {}).get("region", ""))
            short = region.aliases[0] if region.aliases else region.name_ko
            return {"code": code, "region": region.code, "name_ko": f"{short}창조경제혁신센터",
                    "name_en": f"{region.name_en} Center for Creative Economy & Innovation"}
        except ValueError:
            pass
    inst = directory.get(code)
    return {"code": code, "name_ko": inst.name_ko if inst else code, "name_en": inst.name_en if inst else code}


@dataclass
class _Plan:
    decision: str
    targets: list[str]
    confidence: float
    ranking: list[dict]               # [{code, score, reasons}] best first (all candidates)
    forced: bool = False
    reason: str | None = None
    probability: float | None = None   # calibrated P(top-1 right), when the router gives one


def _plan(case: dict, message: CaseMessage, router: CaseRouter, hits: list[dict]) -> _Plan:
    directory = load_directory()
    declined = set(case.get("declined_by") or [])
    data = message.data
    inp = routing_input(case)
    forced = [c for c in (data.get("targets") or []) if c in directory]
    if message.type == EventType.ROUTE_REQUESTED and forced:
        # a coordinator override: route to exactly these, ranked by the router for the reasons
        result = _route(router, inp, (), hits)
        ranking = [s.model_dump() for s in result.institutes]
        partners = [c for c in forced if not directory[c].receives_referrals]
        institutes = [c for c in forced if directory[c].receives_referrals]
        if institutes:
            return _Plan("refer", institutes, 1.0, ranking, forced=True, reason="coordinator_override")
        return _Plan("handoff", partners[:1], 1.0, ranking, forced=True, reason="coordinator_override")
    result = _route(router, inp, declined, hits)
    ranking = [s.model_dump() for s in result.institutes]
    decision, targets = result.decision, [c for c in result.targets if c not in declined]
    rerouting = message.type == EventType.ROUTE_REQUESTED and bool(declined)
    if decision == "refer":
        targets = [c for c in targets if c in directory and directory[c].receives_referrals]
        if not targets:
            return _Plan("coordinator", [], result.confidence, ranking, reason="no_candidate")
    if rerouting:
        left = [c for c, inst in directory.items() if inst.receives_referrals and c not in declined]
        if not left or not any(s["score"] > 0 and s["code"] in left for s in ranking):
            return _Plan("coordinator", [], result.confidence, ranking, reason="no_institute_left")
        if len(declined) >= MAX_AUTOMATIC_REROUTES:
            return _Plan("coordinator", [], result.confidence, ranking, reason="decline_limit")
        if decision == "handoff":
            # an institute said no; whether it is really a non-technology matter is a person's call
            return _Plan("coordinator", [], result.confidence, ranking, reason="declined_then_partner")
    probability = getattr(result, "probability", None)
    if decision == "coordinator":
        return _Plan("coordinator", [], result.confidence, ranking, reason="low_confidence", probability=probability)
    return _Plan(decision, targets, result.confidence, ranking, probability=probability)


def _ranked(plan: _Plan, code: str) -> dict:
    for rank, s in enumerate(plan.ranking, start=1):
        if s["code"] == code:
            return {"score": round(float(s["score"]), 4), "rank": rank, "reasons": list(s.get("reasons") or []),
                    "forced": plan.forced}
    return {"score": 0.0, "rank": len(plan.ranking) + 1, "reasons": ["chosen by a coordinator"],
            "forced": plan.forced}


def _commit(store: CaseStore, case: dict, message: CaseMessage, plan: _Plan, now: datetime,
            evidence: dict[str, list[dict]]) -> tuple[dict, list[dict]] | None:
    """One transaction for the whole decision. Returns (new case, new referrals) or None when the
    case can no longer take this decision (it moved on: withdrawn, closed, ...)."""
    event_id = message.event_id
    at = iso(now)
    status_now = case["status"]
    target_status = {"refer": Status.REFERRED, "handoff": Status.HANDED_OFF, "coordinator": Status.TRIAGED}[plan.decision]
    same_status = target_status == Status(status_now) and target_status != Status.REFERRED
    if not same_status:
        check_transition(status_now, target_status)
    top = [{"code": s["code"], "score": round(float(s["score"]), 4), "reasons": list(s.get("reasons") or [])[:6]}
           for s in plan.ranking[:RANKING_RECORDED]]
    routing = {"decision": plan.decision, "confidence": round(float(plan.confidence), 4), "institutes": top,
               "targets": plan.targets, "forced": plan.forced, "reason": plan.reason, "routed_at": at,
               "event_id": event_id, "trigger": message.type}
    if plan.probability is not None:
        routing["probability"] = round(float(plan.probability), 3)
    seen = [e for e in (case.get("routing_events") or []) if e != event_id][-(ROUTING_EVENTS_KEPT - 1):]
    changes: dict[str, Any] = {"routing": routing, "routing_events": [*seen, event_id], "updated_at": at}
    if not same_status:
        changes["status"] = target_status.value
    events = [CaseEvent(case_id=case["case_id"], type=EventType.ROUTED, at=at, actor=ROUTER_ACTOR,
                        data={"decision": plan.decision, "confidence": routing["confidence"], "ranking": top,
                              "targets": plan.targets, "forced": plan.forced, "reason": plan.reason,
                              "trigger_event_id": event_id})]
    later = iso(now + timedelta(milliseconds=1))  # history order: routed, then its outcome
    actions: list[dict] = []
    new_referrals: list[dict] = []
    directory = load_directory()
    if plan.decision == "refer":
        existing = {r["institute"]: r for r in store.referrals(case["case_id"])}
        for code in plan.targets:
            referral = {"case_id": case["case_id"], "institute": code, "status": "referred", "referred_at": at,
                        "updated_at": at, "referral_id": referral_id_for(case["case_id"], code, event_id),
                        "trigger_event_id": event_id, "case_number": case["case_number"], "title": case["title"],
                        "service_type": case["service_type"], "respond_by": case["guidance_due_at"],
                        "routing": _ranked(plan, code), "evidence": evidence.get(code, []), "message_sent": False}
            actions.append(store.referral_put_action(referral, must_be_new=code not in existing))
            new_referrals.append(referral)
        for code, old in existing.items():  # a coordinator moved the case: earlier offers lapse
            if code not in plan.targets and old.get("status") in ACTIVE_REFERRAL_STATUSES:
                actions.append(store.referral_status_action(old, "superseded", at))
        changes["referred_to"] = plan.targets
        names = [{"code": c, "name_ko": directory[c].name_ko, "name_en": directory[c].name_en} for c in plan.targets]
        events.append(CaseEvent(case_id=case["case_id"], type=EventType.REFERRED, at=later, actor=ROUTER_ACTOR,
                                data={"institutes": names, "reroute": message.type == EventType.ROUTE_REQUESTED,
                                      "forced": plan.forced}))
    elif plan.decision == "handoff":
        partner = partner_for(plan.targets[0] if plan.targets else _PARTNER_BIZINFO, case)
        changes["handed_off_to"] = partner
        actions += partners.handoff_action(store, case, partner, later)  # the partner's queue
        events.append(CaseEvent(case_id=case["case_id"], type=EventType.HANDED_OFF, at=later, actor=ROUTER_ACTOR,
                                data={"partner": partner}))
    elif not same_status:
        events.append(CaseEvent(case_id=case["case_id"], type=EventType.TRIAGED, at=later, actor=ROUTER_ACTOR,
                                data={"reason": plan.reason or "low_confidence", "confidence": routing["confidence"]}))
    new_case = store.update_case(case, changes, events=events, extra_actions=actions)
    return new_case, new_referrals


def route_case_event(store: CaseStore, message: CaseMessage, *, router: CaseRouter | Ranking | None = None,
                     sender: ReferralSender | None = None, evidence: Evidence | None = None,
                     now: datetime | None = None, max_attempts: int = 4) -> RouteOutcome:
    """Route the case named by an intake event (``case.submitted`` / ``case.route_requested``).

    Idempotent on the event id: a replay routes nothing and only finishes unsent referral messages
    of that event. Raises on infrastructure failures so the queue retries the event.

    ``evidence(text, limit)`` looks up catalog hits (default: the loaded catalog snapshot, if
    any); it is called at most once per call, and only when the event is routed. ``message`` is
    parsed at the handler edge; a mapping (the CLI, tests) is parsed here the same way
    (``MalformedMessage`` when it does not fit)."""
    message = CaseMessage.from_body(message)
    event_id, case_id, kind = message.event_id, message.case_id, message.type
    if kind not in INTAKE_EVENTS:
        logger.info("intake event ignored", extra={"case_id": case_id, "event_type": kind})
        return RouteOutcome(case_id, event_id, "skipped", reason="not_an_intake_event")
    hits: list[dict] | None = None
    for attempt in range(max_attempts):
        case = store.get_case(case_id)
        if event_id in (case.get("routing_events") or []):
            pending = [r for r in store.referrals(case_id) if r.get("trigger_event_id") == event_id]
            sent = deliver(store, case, pending, sender or ReferralSender(), now) if any(
                not r.get("message_sent") and r.get("status") == "referred" for r in pending) else 0
            return RouteOutcome(case_id, event_id, (case.get("routing") or {}).get("decision", "skipped"),
                                [r["institute"] for r in pending], replay=True, sent=sent)
        if kind == EventType.SUBMITTED and case["status"] != Status.RECEIVED:
            # someone (a coordinator, the SME withdrawing) acted before the router: leave it be
            return RouteOutcome(case_id, event_id, "skipped", reason=f"status_{case['status']}")
        if hits is None:  # once per event: a retry after a lost race reuses the same hits
            hits = (evidence or catalog_evidence)(_case_text(case), EVIDENCE_LIMIT)
        routing = as_case_router(router) if router is not None else _default_router()  # a replay needs none
        plan = _plan(case, message, routing, hits)
        by_institute = _evidence_by_institute(hits, set(plan.targets), routing) if plan.decision == "refer" else {}
        try:
            committed = _commit(store, case, message, plan, now or utcnow(), by_institute)
        except InvalidTransition:
            logger.warning("routing skipped: the case cannot take the decision",
                           extra={"case_id": case_id, "status": case["status"], "decision": plan.decision})
            return RouteOutcome(case_id, event_id, "skipped", reason=f"status_{case['status']}")
        except ConcurrentUpdate:
            if attempt + 1 == max_attempts:
                raise
            continue
        new_case, referrals = committed
        logger.info("case routed", extra={"case_id": case_id, "decision": plan.decision, "targets": plan.targets,
                                          "confidence": plan.confidence, "reason": plan.reason})
        sent = deliver(store, new_case, referrals, sender or ReferralSender(), now) if referrals else 0
        return RouteOutcome(case_id, event_id, plan.decision, plan.targets, sent=sent, reason=plan.reason)
    raise ConcurrentUpdate()  # pragma: no cover - the loop returns or raises


def referral_message_body(case: dict, referral: dict) -> str:
    """The JSON text of a referral's message (the API shows the same document)."""
    return json.dumps(build_message(case, referral).model_dump(mode="json"), ensure_ascii=False)
