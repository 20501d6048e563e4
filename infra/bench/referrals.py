"""``sos1379 bench referrals``: the referral fan-out per intake event (route_case_event: read the
case, rank, one transaction, send, flag) on a moto server, against the floor of the bare boto3
calls it must make on the same server (GetItem, Query, TransactWriteItems of case + 2 events +
referral, SendMessage, UpdateItem); plus the replay (a redelivered event) and the router's share.

The real router is used (warm); catalog evidence is off so the figure is the fan-out's own cost."""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from . import moto_server, summarize, timed

ROOT = Path(__file__).resolve().parents[2]


def _setup(prefix: str) -> str:
    import boto3

    from infra.template import load_template
    from sos1379.directory import referral_codes

    props = load_template(ROOT / "template.yaml")["Resources"]["CasesTable"]["Properties"]
    name = f"bench-ref-{uuid.uuid4().hex[:6]}"
    boto3.client("dynamodb").create_table(
        TableName=name, AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"], BillingMode="PAY_PER_REQUEST")
    sqs = boto3.client("sqs")
    for code in referral_codes():
        sqs.create_queue(QueueName=f"{prefix}{code}")
    return name


def run(n: int = 100) -> dict:
    import boto3

    from sos1379 import intake
    from sos1379.referrals import fanout as referrals
    from sos1379.routing import get_router
    from sos1379.settings import get_settings
    from sos1379.store import CaseStore

    body = json.loads((ROOT / "events/cases/weld_crack_ko.json").read_text(encoding="utf-8"))
    router = get_router()
    with moto_server():
        prefix = f"bench-{uuid.uuid4().hex[:4]}-referral-"
        os.environ["REFERRAL_QUEUE_PREFIX"] = prefix
        get_settings.cache_clear()
        table = _setup(prefix)
        store = CaseStore(table)
        sender = referrals.ReferralSender()
        no_evidence = lambda text, limit: []  # noqa: E731

        def new_event() -> dict:
            receipt, _ = intake.submit_case(store, body)
            e = store.history(receipt["case_id"])[0]
            return {"event_id": e["event_id"], "case_id": receipt["case_id"], "type": e["type"], "data": {}}

        events = [new_event() for _ in range(n + 20)]
        for e in events[:20]:  # warm-up: clients, queue URLs, router caches
            referrals.route_case_event(store, e, router=router, sender=sender, evidence=no_evidence)
        inp = referrals.routing_input(store.get_case(events[0]["case_id"]))
        route_only = timed(lambda: router.route(inp), n)

        ddb = boto3.resource("dynamodb").meta.client
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=f"{prefix}KITECH")["QueueUrl"]
        payload = json.dumps({"case_id": "x" * 32, "title": body["title"], "description": body["description"]},
                             ensure_ascii=False)
        floor_ids = iter([e["case_id"] for e in events[20:]])

        def floor():
            cid = next(floor_ids)
            ddb.get_item(TableName=table, Key={"PK": f"CASE#{cid}", "SK": "META"}, ConsistentRead=True)
            ddb.query(TableName=table, KeyConditionExpression="PK = :pk AND begins_with(SK, :r)",
                      ExpressionAttributeValues={":pk": f"CASE#{cid}", ":r": "REFERRAL#"})
            rid = uuid.uuid4().hex
            ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": table, "Key": {"PK": f"FLOOR#{rid}", "SK": "META"},
                            "UpdateExpression": "SET #v = :v", "ExpressionAttributeNames": {"#v": "version"},
                            "ExpressionAttributeValues": {":v": 1}}},
                *[{"Put": {"TableName": table, "Item": {"PK": f"FLOOR#{rid}", "SK": f"EVENT#{i}", "d": payload},
                           "ConditionExpression": "attribute_not_exists(PK)"}} for i in range(2)],
                {"Put": {"TableName": table, "Item": {"PK": f"FLOOR#{rid}", "SK": "REFERRAL#KITECH", "d": payload}}},
            ])
            sqs.send_message(QueueUrl=url, MessageBody=payload)
            ddb.update_item(TableName=table, Key={"PK": f"FLOOR#{rid}", "SK": "REFERRAL#KITECH"},
                            UpdateExpression="SET s = :t", ExpressionAttributeValues={":t": True})

        # interleaved, so a busy machine slows the fan-out and its floor alike
        fanout, replay, floor_samples = [], [], []
        for event in events[20:]:
            fanout += timed(lambda: referrals.route_case_event(store, event, router=router, sender=sender,
                                                               evidence=no_evidence), 1)
            replay += timed(lambda: referrals.route_case_event(store, event, router=router, sender=sender,
                                                               evidence=no_evidence), 1)
            floor_samples += timed(floor, 1)
        depth = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                    ["Attributes"]["ApproximateNumberOfMessages"])
    f, r, rp, ro = summarize(fanout), summarize(floor_samples), summarize(replay), summarize(route_only)
    return {
        "cases": n,
        "fanout": f, "replay": rp, "router_route_only": ro, "floor_bare_boto3_calls": r,
        "fanout_vs_floor_median": round(f["median_ms"] / r["median_ms"], 2),
        "replay_vs_floor_median": round(rp["median_ms"] / r["median_ms"], 2),
        "router_share_of_fanout_median": round(ro["median_ms"] / f["median_ms"], 3),
        "fanout_cases_per_second_one_worker": round(1000 / f["median_ms"], 1),
        "messages_on_kitech_queue": depth - n,  # every routed case (warm-up included), none from replays
        "note": "moto server on 127.0.0.1; AWS latencies differ, the ratio to the floor is the figure",
    }


def main() -> int:  # pragma: no cover - `python -m infra.bench.referrals`
    started = time.perf_counter()
    print(json.dumps(run(), indent=2))
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
