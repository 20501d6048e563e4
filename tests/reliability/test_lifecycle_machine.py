"""A hypothesis state machine over the case lifecycle and its messages, on in-process moto.

Rules: submit, duplicate submit (same Idempotency-Key), deliver / redeliver an intake event,
crash after a side effect (the referral message went out, the process died before recording it),
institute accept and decline (which re-routes), an SLA pass run twice, and cross-tenant reads.
Invariants after every step: statuses move only along lifecycle.TRANSITIONS, at most one referral
item per (case, institute), a redelivered event never routes twice, every copy of a referral
message is the same referral, and nobody reads a case that is not theirs."""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from sos1379 import intake
from sos1379.institutes import service as institute_service
from sos1379.referrals import fanout as referrals
from sos1379.errors import CaseNotFound, DomainError, NotFound
from sos1379.events import parse_iso
from sos1379.lifecycle import TRANSITIONS, Status
from sos1379.routing import InstituteScore, RoutingResult
from sos1379.sla.flagger import MemoryAlertSink, flag_due_cases
from sos1379.store import CaseStore
from tests.conftest import load_event

RANKING = ["KITECH", "KIMS", "KIMM", "KRISS"]
OUTSIDER = "KRICT"  # never in the ranking: never has a referral


class FixedRouter:
    def route(self, inp, *, exclude=frozenset()):
        left = [c for c in RANKING if c not in set(exclude)]
        scores = [InstituteScore(code=c, score=round(0.9 - 0.1 * i, 2), reasons=["fixed"]) for i, c in enumerate(left)]
        if not left:
            return RoutingResult(decision="coordinator", institutes=scores, targets=[], confidence=0.1)
        return RoutingResult(decision="refer", institutes=scores, targets=left[:1], confidence=0.9)


class Crash(Exception):
    """The process died right after a side effect."""


class CrashingSender(referrals.ReferralSender):
    def send(self, message):
        super().send(message)
        raise Crash("died after sending, before recording it")


def _message(event: dict, case_id: str) -> dict:
    return {"version": 1, "event_id": event["event_id"], "case_id": case_id, "type": event["type"],
            "at": event["at"], "actor": event["actor"], "data": event.get("data", {})}


COVERAGE: dict[str, int] = defaultdict(int)  # what the runs exercised (asserted non-vacuous)


class LifecycleMachine(RuleBasedStateMachine):
    cases = Bundle("cases")

    def __init__(self, aws) -> None:
        super().__init__()
        self.aws = aws
        self.store = CaseStore(aws.tables["CasesTable"])
        self.base = load_event("cases/weld_crack_ko.json")
        self.keys: dict[str, str] = {}            # idempotency key -> case id
        self.tokens: dict[str, str] = {}          # case id -> tracking token
        self.status: dict[str, str] = {}          # case id -> last status seen
        self.delivered: dict[str, set[str]] = defaultdict(set)  # case id -> intake event ids routed ok
        self.referral_messages: list[dict] = []
        self.touched: set[str] = set()            # cases a rule changed since the last check
        # moto's tables outlive one example: keep this example's Idempotency-Keys its own
        self.nonce = uuid.uuid4().hex

    # --- helpers ------------------------------------------------------------------------------
    def _intake_events(self, case_id: str) -> list[dict]:
        return [e for e in self.store.history(case_id) if e["type"] in ("case.submitted", "case.route_requested")]

    def _route(self, case_id: str, event: dict, sender=None) -> None:
        self.touched.add(case_id)
        referrals.route_case_event(self.store, _message(event, case_id), router=FixedRouter(),
                                   sender=sender or referrals.ReferralSender(), evidence=lambda text, n: [])
        self.delivered[case_id].add(event["event_id"])
        COVERAGE["routed"] += 1

    # --- rules --------------------------------------------------------------------------------
    @rule(target=cases, key=st.uuids().map(str))
    def submit(self, key):
        key = f"{self.nonce}-{key}"
        receipt, created = intake.submit_case(self.store, self.base, idempotency_key=key)
        assert created
        self.keys[key] = receipt["case_id"]
        self.tokens[receipt["case_id"]] = receipt["tracking_token"]
        self.status[receipt["case_id"]] = receipt["status"]
        self.touched.add(receipt["case_id"])
        return receipt["case_id"]

    @rule(case_id=cases)
    def duplicate_submit(self, case_id):
        key = next(k for k, v in self.keys.items() if v == case_id)
        receipt, created = intake.submit_case(self.store, self.base, idempotency_key=key)
        assert not created and receipt["case_id"] == case_id

    @rule(case_id=cases, data=st.data())
    def deliver_or_redeliver_intake_event(self, case_id, data):
        events = self._intake_events(case_id)
        self._route(case_id, data.draw(st.sampled_from(events)))

    @rule(case_id=cases, data=st.data())
    def crash_after_sending_a_referral(self, case_id, data):
        event = data.draw(st.sampled_from(self._intake_events(case_id)))
        try:
            self._route(case_id, event, sender=CrashingSender())
        except Crash:
            COVERAGE["crashed_after_send"] += 1  # SQS will redeliver the event: the deliver rule plays that part

    @rule(case_id=cases)
    def institute_accepts(self, case_id):
        self.touched.add(case_id)
        case = self.store.get_case(case_id)
        for code in case.get("referred_to") or []:
            try:
                institute_service.accept(self.store, code, case_id)
                COVERAGE["accepted"] += 1
            except DomainError:
                pass  # not allowed in this state: a typed refusal is the right answer

    @rule(case_id=cases)
    def institute_declines_and_case_is_rerouted(self, case_id):
        self.touched.add(case_id)
        case = self.store.get_case(case_id)
        for code in case.get("referred_to") or []:
            try:
                institute_service.decline(self.store, code, case_id, {"reason": "다른 분야의 문제입니다."})
            except DomainError:
                continue
            COVERAGE["declined"] += 1
            latest = self._intake_events(case_id)[-1]
            if latest["type"] == "case.route_requested":
                self._route(case_id, latest)
            return

    @rule(days=st.integers(min_value=0, max_value=20))
    def sla_pass_runs_twice(self, days):
        if not self.status:
            return
        latest_due = max(parse_iso(self.store.get_case(c)["guidance_due_at"]) for c in self.status)
        now = latest_due + timedelta(days=days)
        first = flag_due_cases(self.store, now, MemoryAlertSink())
        COVERAGE["sla_flags"] += first.at_risk + first.breached
        before = {c: len(self.store.history(c)) for c in self.status}
        second = flag_due_cases(self.store, now, MemoryAlertSink())
        after = {c: len(self.store.history(c)) for c in self.status}
        assert before == after and second.alerts == 0  # the rerun records and sends nothing new
        self.touched.update(c for c in first.flagged_cases if c in self.status)  # not earlier examples' cases

    @rule(case_id=cases, other=cases)
    def cross_tenant_reads_are_refused(self, case_id, other):
        if other != case_id:
            with pytest.raises(CaseNotFound):
                intake.load_case_for_sme(self.store, case_id, self.tokens[other])
        with pytest.raises(NotFound):
            institute_service.get_referral(self.store, OUTSIDER, case_id)
        COVERAGE["cross_tenant_reads"] += 1

    # --- invariants ---------------------------------------------------------------------------
    # Only cases a rule touched can have changed: checking just those keeps moto's work small.
    @invariant()
    def invariants_of_touched_cases(self):
        for case_id in sorted(self.touched):
            self._statuses_move_only_along_allowed_edges(case_id)
            self._at_most_one_referral_per_case_and_institute(case_id)
            self._a_redelivered_event_never_routes_twice(case_id)
        self.touched.clear()

    def _statuses_move_only_along_allowed_edges(self, case_id):
        last = self.status[case_id]
        now = self.store.get_case(case_id)["status"]
        if now != last:
            assert Status(now) in TRANSITIONS[Status(last)], f"{last} -> {now}"
            self.status[case_id] = now

    def _at_most_one_referral_per_case_and_institute(self, case_id):
        institutes = [r["institute"] for r in self.store.referrals(case_id)]
        assert len(institutes) == len(set(institutes))

    def _a_redelivered_event_never_routes_twice(self, case_id):
        routed = [e["data"]["trigger_event_id"] for e in self.store.history(case_id) if e["type"] == "case.routed"]
        assert len(routed) == len(set(routed)), "one intake event routed twice"

    def teardown(self):
        for logical_id in self.aws.queues:
            if logical_id.startswith("ReferralQueue"):
                self.referral_messages += self.aws.drain(logical_id)
        by_id = defaultdict(set)
        for message in self.referral_messages:
            by_id[message["referral_id"]].add(json.dumps(message, sort_keys=True))
        assert all(len(copies) == 1 for copies in by_id.values()), "two different messages share a referral id"
        for case_id in self.status:
            for item in self.store.referrals(case_id):
                if item["status"] in ("referred", "accepted") and item.get("message_sent"):
                    assert item["referral_id"] in by_id


def test_lifecycle_invariants_hold_when_hypothesis_drives_the_messages(aws):
    from infra.localstack.motofast import fast_transactions

    COVERAGE.clear()
    with fast_transactions():  # moto copies whole tables per transaction otherwise
        run_state_machine_as_test(
            lambda: LifecycleMachine(aws),
            settings=settings(max_examples=8, stateful_step_count=10, deadline=None, derandomize=True,
                              suppress_health_check=list(HealthCheck)))
    print("lifecycle machine coverage:", dict(COVERAGE))
    missing = {"routed", "crashed_after_send", "accepted", "declined", "cross_tenant_reads"} - set(COVERAGE)
    assert not missing, f"the runs never exercised {missing}"
