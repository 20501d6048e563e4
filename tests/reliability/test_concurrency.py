"""50 threads race the same case transition: optimistic locking lets exactly one win.

moto handles requests without a lock: two threads could both pass a condition check between each
other's check and write, and a GetItem can serialise an item while a transaction mutates it
("dictionary changed size during iteration"). DynamoDB makes each request atomic per item. The
fixture gives moto that guarantee with the local stack's own patch (one request at a time); the
code under test is not changed and every thread still reads the case, checks the transition and
writes on its own."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from infra.localstack.motofast import serialized_requests
from sos1379 import intake
from sos1379.errors import ConcurrentUpdate, InvalidTransition
from sos1379.events import Actor, CaseEvent, iso, utcnow
from sos1379.lifecycle import EventType, check_transition
from sos1379.store import CaseStore

THREADS = 50
WRITERS = 10  # read-modify-write with retries costs O(n^2) transactions on moto


@pytest.fixture
def serialised_moto(aws):
    with serialized_requests():
        yield aws


def _store(aws) -> CaseStore:
    return CaseStore(aws.tables["CasesTable"], boto3.session.Session().resource("dynamodb"))


def test_exactly_one_thread_wins_when_fifty_race_the_same_transition(serialised_moto, sample_case):
    aws = serialised_moto
    receipt, _ = intake.submit_case(_store(aws), sample_case)
    case_id = receipt["case_id"]
    stores = [_store(aws) for _ in range(THREADS)]
    ready = threading.Barrier(THREADS)

    def race(i: int) -> str:
        store = stores[i]
        case = store.get_case(case_id)
        ready.wait()  # every thread holds the same version before anyone writes
        try:
            target = check_transition(case["status"], "triaged")
            store.update_case(case, {"status": target.value, "updated_at": iso(utcnow())},
                              events=[CaseEvent(case_id=case_id, type=EventType.TRIAGED, at=iso(utcnow()),
                                                actor=Actor(kind="coordinator", id=f"c{i}"), data={})])
            return "won"
        except ConcurrentUpdate:
            return "conflict"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(race, range(THREADS)))

    store = _store(aws)
    case = store.get_case(case_id)
    triaged = [e for e in store.history(case_id) if e["type"] == EventType.TRIAGED]
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == THREADS - 1
    assert case["status"] == "triaged" and case["version"] == 2
    assert len(triaged) == 1
    winner = outcomes.index("won")
    assert triaged[0]["actor"]["id"] == f"c{winner}"


def test_no_update_is_lost_when_concurrent_writers_retry_after_conflicts(serialised_moto, sample_case):
    aws = serialised_moto
    receipt, _ = intake.submit_case(_store(aws), sample_case)
    case_id = receipt["case_id"]
    stores = [_store(aws) for _ in range(WRITERS)]
    conflicts = []

    def add_one(i: int) -> None:
        store = stores[i]
        while True:  # read-modify-write, retried on a lost race like the API tells clients to
            case = store.get_case(case_id)
            try:
                store.update_case(case, {"touches": int(case.get("touches", 0)) + 1},
                                  events=[CaseEvent(case_id=case_id, type=EventType.NOTE_ADDED, at=iso(utcnow()),
                                                    actor=Actor(kind="counselor", id=f"c{i}"), data={"n": i})])
                return
            except ConcurrentUpdate:
                conflicts.append(i)

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(add_one, range(WRITERS)))

    store = _store(aws)
    case = store.get_case(case_id)
    notes = [e for e in store.history(case_id) if e["type"] == EventType.NOTE_ADDED]
    assert case["touches"] == WRITERS
    assert case["version"] == WRITERS + 1
    assert sorted(e["data"]["n"] for e in notes) == list(range(WRITERS))
    assert conflicts, "the threads never overlapped: the test did not race"


def test_loser_of_a_race_gets_invalid_transition_when_it_rereads_a_closed_case(serialised_moto, sample_case):
    aws = serialised_moto
    store = _store(aws)
    receipt, _ = intake.submit_case(store, sample_case)
    case = store.get_case(receipt["case_id"])
    store.update_case(case, {"status": "withdrawn"},
                      events=[CaseEvent(case_id=case["case_id"], type=EventType.WITHDRAWN, at=iso(utcnow()),
                                        actor=Actor(kind="sme", id="public"), data={})])
    with pytest.raises(ConcurrentUpdate):
        store.update_case(case, {"status": "triaged"})
    with pytest.raises(InvalidTransition):
        check_transition(store.get_case(case["case_id"])["status"], "triaged")
