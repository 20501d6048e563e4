"""Counselor intake against moto DynamoDB: the case, its ``case.submitted`` event and the record of
who took the SME's consent are one TransactWriteItems (no second, non-atomic write)."""
from __future__ import annotations

import pytest
from sos1379 import intake
from sos1379.coordinators.auth import Staff
from sos1379.coordinators.service import counselor_intake

CAROL = Staff(sub="carol", role="counselor")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


@pytest.fixture
def writes(store):
    """Every DynamoDB write the store makes, through its resource's client or its plain one
    (items in DynamoDB's format, shown here as Python values), as (operation, params), in order."""
    from sos1379.store.items import from_item

    seen: list[tuple[str, dict]] = []

    def python(value):
        if isinstance(value, dict):
            return {k: from_item(v) if k in ("Key", "Item") else python(v) for k, v in value.items()}
        return [python(v) for v in value] if isinstance(value, list) else value

    def record(model, params, **_):
        if model.name in WRITES:
            seen.append((model.name, params))

    def record_plain(model, params, **_):
        if model.name in WRITES:
            seen.append((model.name, python(params)))

    store.client.meta.events.register("provide-client-params.dynamodb.*", record)
    store.raw.meta.events.register("provide-client-params.dynamodb.*", record_plain)
    yield seen
    store.client.meta.events.unregister("provide-client-params.dynamodb.*", record)
    store.raw.meta.events.unregister("provide-client-params.dynamodb.*", record_plain)


def _call(sample_case, channel="call_center") -> dict:
    return {**sample_case, "channel": channel}


def test_consent_is_written_in_the_case_transaction_when_a_counselor_records_a_call(store, writes, sample_case):
    receipt, created = counselor_intake(store, CAROL, _call(sample_case))

    assert created
    # the day counter (the case number) and then ONE transaction: nothing touches the case after it
    assert [name for name, _ in writes] == ["UpdateItem", "TransactWriteItems"]
    assert writes[0][1]["Key"]["PK"].startswith("COUNTER#")
    puts = [action["Put"]["Item"] for action in writes[1][1]["TransactItems"]]
    case_put = next(item for item in puts if item.get("kind") == "case")
    assert case_put["consent_recorded_by"]["staff_id"] == "carol"
    assert any(item.get("kind") == "event" and item["type"] == "case.submitted" for item in puts)

    case = store.get_case(receipt["case_id"])
    assert case["version"] == 1
    assert case["consent_recorded_by"] == {
        "staff_id": "carol", "role": "counselor", "channel": "call_center", "at": case["created_at"],
        "personal_info": True, "share_with_institutes": sample_case["consent"]["share_with_institutes"]}
    history = store.history(receipt["case_id"])
    assert [(e["type"], e["actor"]) for e in history] == [("case.submitted", {"kind": "counselor", "id": "carol"})]


def test_replay_writes_nothing_when_the_same_idempotency_key_is_sent_again(store, writes, sample_case):
    first, created = counselor_intake(store, CAROL, _call(sample_case, "visit"), idempotency_key="visit-1")
    before = len(writes)

    again, replayed_created = counselor_intake(store, CAROL, _call(sample_case, "visit"), idempotency_key="visit-1")

    assert created and not replayed_created and again == first
    assert writes[before:] == []
    assert store.get_case(first["case_id"])["consent_recorded_by"]["channel"] == "visit"


def test_nothing_is_stored_when_the_case_transaction_fails(store, sample_case, monkeypatch):
    from botocore.exceptions import ClientError

    def refuse(**_):
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "injected"}},
                          "TransactWriteItems")

    monkeypatch.setattr(store.raw, "transact_write_items", refuse)
    with pytest.raises(ClientError):
        counselor_intake(store, CAROL, _call(sample_case))
    monkeypatch.undo()
    items = store.table.scan()["Items"]
    assert [i["PK"] for i in items if not i["PK"].startswith("COUNTER#")] == []


def test_public_intake_stores_no_consent_record_when_the_sme_submits_online(store, writes, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)

    assert [name for name, _ in writes] == ["UpdateItem", "TransactWriteItems"]
    case = store.get_case(receipt["case_id"])
    assert "consent_recorded_by" not in case and case["version"] == 1


def test_case_fields_are_refused_when_they_would_replace_intake_attributes(store, sample_case):
    with pytest.raises(ValueError, match="status"):
        intake.submit_case(store, sample_case, case_fields={"status": "closed"})
