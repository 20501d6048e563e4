"""POST /cases through the Chalice app against moto server, against its floor: the bare boto3 calls
intake must make, replayed on the same moto in the same run; plus each function's cold import time
against a bare ``import boto3`` (infra.bench.imports).

Two scenarios (``SCENARIOS``), each sending an ``Idempotency-Key`` as the web page does:

- ``distinct``: every case from another business number, as real traffic is (an SME rarely writes
  twice in a month), so the duplicate check finds no recent case of the company;
- ``repeat_company``: every case from one company with a long history (``HISTORY`` cases older than
  the duplicate window, seeded first) and the same text, so every recent case is a near duplicate
  and the receipt lists suggestions; its recent cases grow as the run goes.

The floor of one POST is the DynamoDB calls intake inherently needs, in this order:

1. GetItem of the idempotency record (a retried submission gets its first receipt back without
   spending a case number);
2. UpdateItem of the day's case-number counter;
3. Query of the company's entries in the duplicate window (Limit 21; sos1379.companies);
4. only when something scored above the duplicate threshold: BatchGetItem of the best few
   candidates, projected to ``merged_into``;
5. TransactWriteItems of the case, its number lookup, its first event, its company entry and the
   idempotency record.

Those are replayed through a bare low-level ``boto3.client("dynamodb")`` with the very request
bodies the app sent (captured on the store's two clients: its resource's and the plain one intake
uses), only the ids rewritten to fresh ones (the case id, number, idempotency hash, and in
``distinct`` the company key), so both sides move the same bytes and see the same table. The
benchmark fails if the app made any other call, so an extra call cannot hide in the floor. What
the ratio then measures is everything else: Chalice, the edge checks, pydantic validation, the
fingerprint, the similarity scoring, the receipt and how the store calls boto3. The rate-limit
counter (one more UpdateItem in AWS) is off here, on both sides.

How it stays fair on a shared, loaded machine: moto runs in a child process (as DynamoDB runs
outside a Lambda), so this process's garbage collections walk only the code measured; POSTs and
floors alternate in blocks of two (POST, POST, floor, floor), so a load spike or the table's growth
reaches both sides alike and neither always runs right after the other; and each scenario takes
1,000 samples a side, so its p99 is the 10th slowest, not the 3rd.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import moto_process, summarize, timed
from .imports import cold_imports

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("distinct", "repeat_company")
HISTORY = 300  # the repeat company's cases older than the duplicate window
WARMUP = 30


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


def business_number(i: int) -> str:
    """A valid business number, distinct for every ``i`` < 800 * 9999."""
    from sos1379.korea import business_number_check_digit

    nine = f"{101 + i % 800:03d}81{1 + i // 800 % 9999:04d}"
    return f"{nine[:3]}-{nine[3:5]}-{nine[5:]}{business_number_check_digit(nine)}"


def _seed_history(store, body: dict, key: str, now: datetime) -> None:
    """``HISTORY`` company entries (with their cases) from before the duplicate window."""
    from sos1379 import companies

    with store.table.batch_writer() as batch:
        for i in range(HISTORY):
            created = (now - timedelta(days=companies.DUPLICATE_WINDOW_DAYS + 1 + i)).isoformat()
            case = {"case_id": uuid.uuid4().hex, "case_number": f"old-{i:05d}", "created_at": created,
                    "channel": "web"}
            batch.put_item(Item=store.company_case_item(
                key, case, companies.match_text(body["title"], body["description"])))
            batch.put_item(Item={"PK": f"CASE#{case['case_id']}", "SK": "META", **case, "title": body["title"],
                                 "description": body["description"]})


class _Capture:
    """The DynamoDB requests the app's client sends: (operation, JSON body)."""

    def __init__(self, *clients) -> None:
        self.calls: list[tuple[str, str]] = []
        for client in clients:
            client.meta.events.register("before-call.dynamodb.*", self._record)

    def _record(self, model, params, **_):
        body = params["body"]
        self.calls.append((model.name, body.decode() if isinstance(body, bytes) else body))

    def take(self) -> list[tuple[str, str]]:
        out, self.calls = self.calls, []
        return out


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _latency(n: int, scenario: str, warmup: int = WARMUP) -> dict:
    import boto3
    from chalice.config import Config
    from chalice.local import LambdaContext, LocalGateway

    from sos1379 import companies
    from sos1379.api.common import get_store
    from sos1379.intake import PUBLIC_SCOPE, scoped_idempotency_key
    from sos1379.settings import get_settings

    body = json.loads((ROOT / "events/cases/weld_crack_ko.json").read_text(encoding="utf-8"))
    expected = ["GetItem", "UpdateItem", "Query", "TransactWriteItems"]
    if scenario == "repeat_company":
        expected.insert(3, "BatchGetItem")
    with moto_process():
        os.environ["CASES_TABLE"] = _create_tables()
        get_settings.cache_clear()
        get_store.cache_clear()
        from app import app

        store = get_store()
        if scenario == "repeat_company":
            _seed_history(store, body, companies.company_key(body["company"]["business_number"]),
                          datetime.now(timezone.utc))
        capture = _Capture(store.client, store.raw)  # the resource's client and the plain one
        bare = boto3.client("dynamodb")
        state: dict = {"i": 0, "replay": []}

        # The app is called as Lambda calls it: with API Gateway's proxy event (built, like API Gateway
        # builds it, before the clock starts) and a context; timed is Chalice's routing, the
        # middleware, the view and its response. (chalice.test.Client would also copy os.environ
        # and rebuild the event inside every timed call: harness work no Lambda does.)
        gateway = LocalGateway(app, Config())

        def prepare():
            state["i"] += 1
            case = body
            if scenario == "distinct":
                case = {**body, "company": {**body["company"], "business_number": business_number(state["i"])}}
            state["case"], state["key"] = case, uuid.uuid4().hex
            headers = {"Content-Type": "application/json", "Idempotency-Key": state["key"]}
            state["event"] = gateway.event_converter.create_lambda_event(
                method="POST", path="/cases", headers=headers, body=json.dumps(case, ensure_ascii=False).encode())
            state["context"] = LambdaContext("api_handler", 1024, max_runtime_ms=30_000)

        def post():
            state["resp"] = app(state["event"], state["context"])

        def check_and_plan_floor():
            resp, case, key = state["resp"], state["case"], state["key"]
            assert resp["statusCode"] == 201, resp["body"]
            receipt = json.loads(resp["body"])
            calls = capture.take()
            assert [op for op, _ in calls] == expected, [op for op, _ in calls]
            assert bool(receipt["possible_duplicates"]) == (scenario == "repeat_company"), receipt
            # the same requests with fresh ids
            swaps = {receipt["case_id"]: uuid.uuid4().hex,
                     receipt["case_number"]: f"F{state['i']:0{len(receipt['case_number']) - 1}d}",
                     store.idempotency_key(scoped_idempotency_key(PUBLIC_SCOPE, key))["PK"]:
                         f"IDEMPOTENCY#{uuid.uuid4().hex}{uuid.uuid4().hex}"}
            if scenario == "distinct":
                swaps[companies.company_key(case["company"]["business_number"])] = uuid.uuid4().hex
            replay = []
            for op, text in calls:
                for old, new in swaps.items():
                    text = text.replace(old, new)
                params = json.loads(text)
                params.pop("ClientRequestToken", None)
                replay.append((getattr(bare, _snake(op)), params))
            state["replay"] = replay

        def floor():
            for call, params in state["replay"]:
                call(**params)

        def pair(api: list, base: list) -> None:
            # two POSTs, then their two floors: each side runs once after itself and once
            # after the other, so neither always inherits the other's garbage or cold caches
            plans = []
            for _ in range(2):
                prepare()
                api += timed(post, 1)
                check_and_plan_floor()
                plans.append(state["replay"])
            for plan in plans:
                state["replay"] = plan
                base += timed(floor, 1)

        if scenario == "repeat_company":  # its first recent case: from here on, every POST has suggestions
            prepare()
            post()
            capture.take()
        for _ in range(warmup // 2):
            pair([], [])
        # Interleaved in blocks of two, so a load spike from elsewhere on the machine and the
        # table's growth (moto's queries and transactions slow down as it grows) reach both
        # sides alike.
        api, base = [], []
        for _ in range(n // 2):
            pair(api, base)
    a, f = summarize(api), summarize(base)
    return {"api": a, "floor_bare_boto3": f, "floor_calls": expected,
            "ratio_median": round(a["median_ms"] / f["median_ms"], 2),
            "ratio_p99": round(a["p99_ms"] / f["p99_ms"], 2)}


def run(n: int = 1000) -> dict:
    # cold imports are also `sos1379 bench imports`
    return {"post_cases": {s: _latency(n, s) for s in SCENARIOS}, "cold_import": cold_imports()}


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=2, ensure_ascii=False))
