"""POST /cases through the Chalice app against moto server, against the floor of the bare boto3
calls intake must make (counter update + one TransactWriteItems) on the same moto; plus each
function's cold import time against a bare ``import boto3`` (infra.bench.imports)."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from . import moto_server, summarize, timed
from .imports import cold_imports

ROOT = Path(__file__).resolve().parents[2]


def _create_tables() -> str:
    import boto3

    from infra.template import load_template

    props = load_template(ROOT / "template.yaml")["Resources"]["CasesTable"]["Properties"]
    ddb = boto3.client("dynamodb")
    name = f"bench-cases-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=name, AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"],
                     GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"], BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    return name


def _intake_latency(n: int) -> dict:
    import boto3
    from chalice.test import Client

    from sos1379.api.common import get_store
    from sos1379.settings import get_settings

    body = json.loads((ROOT / "events/cases/weld_crack_ko.json").read_text(encoding="utf-8"))
    with moto_server():
        os.environ["CASES_TABLE"] = table = _create_tables()
        get_settings.cache_clear()
        get_store.cache_clear()
        from app import app

        payload = json.dumps(body, ensure_ascii=False)
        with Client(app) as client:
            def post():
                resp = client.http.post("/cases", headers={"Content-Type": "application/json"}, body=payload)
                assert resp.status_code == 201, resp.body

            for _ in range(20):
                post()

            client_ddb = boto3.resource("dynamodb").meta.client
            counter = {"n": 0}

            def floor():
                counter["n"] += 1
                cid = uuid.uuid4().hex
                client_ddb.update_item(TableName=table, Key={"PK": "COUNTER#floor", "SK": "META"},
                                       UpdateExpression="ADD #v :one", ExpressionAttributeNames={"#v": "value"},
                                       ExpressionAttributeValues={":one": 1})
                item = {"PK": f"CASE#{cid}", "SK": "META", "kind": "case", "status": "received", "version": 1,
                        "GSI1PK": "STATUS#received", "GSI1SK": f"2026-12-01#{cid}", **body}
                client_ddb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Put": {"TableName": table, "Item": {"PK": f"CASENO#{cid}", "SK": "META", "case_id": cid},
                             "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Put": {"TableName": table, "Item": {"PK": f"CASE#{cid}", "SK": "EVENT#1", "kind": "event",
                                                          "type": "case.submitted"},
                             "ConditionExpression": "attribute_not_exists(PK)"}},
                ])

            for _ in range(20):
                floor()
            # Interleaved, so both see the same table size (moto's transactions slow down as the
            # table grows; running one after the other would favour whichever ran first).
            api, base = [], []
            for _ in range(n):
                api += timed(post, 1)
                base += timed(floor, 1)
    a, f = summarize(api), summarize(base)
    return {"api": a, "floor_bare_boto3": f, "ratio_median": round(a["median_ms"] / f["median_ms"], 2),
            "ratio_p99": round(a["p99_ms"] / f["p99_ms"], 2)}


def run(n: int = 300) -> dict:
    return {"post_cases": _intake_latency(n), "cold_import": cold_imports()}  # also `sos1379 bench imports`


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=2, ensure_ascii=False))
