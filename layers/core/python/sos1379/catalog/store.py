"""CatalogTable (DynamoDB) and the index outbox in CatalogBucket (S3).

| item           | PK                      | SK     | attributes                                               |
|----------------|-------------------------|--------|----------------------------------------------------------|
| catalog record | REC#{source}:{id}       | RECORD | source, type, institute, content_hash, synced_at, body    |
| sync state     | SYNC#{source}           | STATE  | state (JSON: watermark, checkpoint), lease_owner/until    |
| index lease    | SYNC#index              | STATE  | lease_owner, lease_until                                  |
| equipment calendar | CAL#{equipment_id}  | CALENDAR | institute, synced_at, body (JSON: fee, hours, booked) |

Equipment calendars (the reservation side of ZEUS, ``sos1379.equipment.availability``) are
replaced whole by each availability sync; searches read them by BatchGetItem, bookings by GetItem.

``body`` is the record as JSON text: one attribute, no float/Decimal conversion, read back with
the same pydantic model that wrote it. Record writes go through BatchWriteItem on a low-level
client, items built directly in DynamoDB's wire form (every attribute is a string) and sent
without client-side parameter validation (DynamoDB validates them anyway): the resource layer's
type serialisation, deep copies and validation of every attribute cost as much as the sending
itself on a full load. Unprocessed items are re-sent with backoff, and a key listed twice in one
batch keeps its last version (what boto3's batch_writer does with ``overwrite_by_pkeys``). Reads of
existing hashes go through BatchGetItem with a projection.

The index outbox: every page that changed something first writes a delta object (upserted docs
with their analysed tokens, removed keys) to ``index/pending/``, then the table. A crash between
the two leaves a delta for a write that never happened, which the rebuild applies harmlessly
(the record is re-fetched, re-hashed and written again on the rerun); the other order could lose
an index update for good.
"""
from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic_core import to_json

from ..errors import is_conditional_failure
from .models import record_from_json

RECORD_SK = "RECORD"
STATE_SK = "STATE"
CALENDAR_SK = "CALENDAR"


def calendar_pk(equipment_id: str) -> str:
    return f"CAL#{equipment_id}"


def record_pk(key: str) -> str:
    return f"REC#{key}"


class LeaseHeld(Exception):
    """Another run holds the source's lease (a previous schedule tick is still going)."""


# The low-level twin of each table client in use (a client costs ~0.1 s to make; a Lambda
# container or a CLI run syncs several sources through the same resource).
_wire_clients: dict[int, tuple[Any, Any]] = {}


def _wire_client(client: Any) -> Any:
    known = _wire_clients.get(id(client))
    if known is None or known[0] is not client:
        import boto3
        from botocore.config import Config

        meta = client.meta
        if len(_wire_clients) >= 16:
            _wire_clients.clear()
        known = _wire_clients[id(client)] = (client, boto3.session.Session().client(
            "dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url,
            config=meta.config.merge(Config(parameter_validation=False))))
    return known[1]


class DynamoCatalogStore:
    def __init__(self, table: Any, clock=time.time) -> None:
        self.table = table
        self._client = table.meta.client
        self._clock = clock
        self._wire_client: Any = None

    @property
    def _wire(self) -> Any:
        """A low-level client (no type serialisation, no client-side validation) on the same
        endpoint, region and settings as the table's (one per process and endpoint)."""
        if self._wire_client is None:
            self._wire_client = _wire_client(self._client)
        return self._wire_client

    # -- records ------------------------------------------------------------------------------
    def hashes(self, keys: Iterable[str]) -> dict[str, str]:
        """Stored content hashes of the given record keys (absent keys are simply missing)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for start in range(0, len(unique), 100):
            request = {self.table.name: {
                "Keys": [{"PK": record_pk(k), "SK": RECORD_SK} for k in unique[start:start + 100]],
                "ProjectionExpression": "PK, content_hash"}}
            attempt = 0
            while request:
                resp = self._client.batch_get_item(RequestItems=request)
                for item in resp["Responses"].get(self.table.name, []):
                    found[item["PK"][4:]] = item["content_hash"]
                request = resp.get("UnprocessedKeys") or {}
                if request:
                    attempt += 1
                    time.sleep(min(2.0, 0.05 * 2 ** attempt))
        return found

    def put_records(self, records: Iterable[tuple[Any, str]], synced_at: str) -> int:
        items = {}
        for record, content_hash in records:
            item = self.wire_item_of(record, content_hash, synced_at)
            items[item["PK"]["S"]] = item  # a key listed twice: its last version wins
        self._batch_write([{"PutRequest": {"Item": item}} for item in items.values()])
        return len(items)

    @staticmethod
    def wire_item_of(record: Any, content_hash: str, synced_at: str) -> dict:
        """``item_of`` in DynamoDB's wire form."""
        item = {"PK": {"S": record_pk(record.key)}, "SK": {"S": RECORD_SK}, "source": {"S": record.source},
                "type": {"S": record.type}, "content_hash": {"S": content_hash}, "synced_at": {"S": synced_at},
                "body": {"S": record.model_dump_json()}}
        if record.institute:
            item["institute"] = {"S": record.institute}
        return item

    def _batch_write(self, requests: list[dict]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict = {self.table.name: requests[start:start + 25]}
            attempt = 0
            while pending:
                pending = self._wire.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if pending:
                    attempt += 1
                    time.sleep(min(2.0, 0.05 * 2 ** attempt))

    @staticmethod
    def item_of(record: Any, content_hash: str, synced_at: str) -> dict:
        item = {"PK": record_pk(record.key), "SK": RECORD_SK, "source": record.source, "type": record.type,
                "content_hash": content_hash, "synced_at": synced_at, "body": record.model_dump_json()}
        if record.institute:
            item["institute"] = record.institute
        return item

    def delete(self, keys: Iterable[str]) -> int:
        count = 0
        with self.table.batch_writer(overwrite_by_pkeys=["PK", "SK"]) as batch:
            for key in keys:
                batch.delete_item(Key={"PK": record_pk(key), "SK": RECORD_SK})
                count += 1
        return count

    # -- equipment calendars -------------------------------------------------------------------
    def put_calendars(self, calendars: Iterable[dict], synced_at: str) -> int:
        count = 0
        with self.table.batch_writer(overwrite_by_pkeys=["PK", "SK"]) as batch:
            for cal in calendars:
                item = {"PK": calendar_pk(cal["equipment_id"]), "SK": CALENDAR_SK, "kind": "calendar",
                        "synced_at": synced_at, "body": json.dumps(cal, ensure_ascii=False)}
                if cal.get("institute"):
                    item["institute"] = cal["institute"]
                batch.put_item(Item=item)
                count += 1
        return count

    def calendars(self, equipment_ids: Iterable[str]) -> dict[str, dict]:
        """Stored calendars by equipment id (ids without one are simply missing)."""
        unique = list(dict.fromkeys(equipment_ids))
        found: dict[str, dict] = {}
        for start in range(0, len(unique), 100):
            request = {self.table.name: {"Keys": [{"PK": calendar_pk(i), "SK": CALENDAR_SK}
                                                  for i in unique[start:start + 100]]}}
            attempt = 0
            while request:
                resp = self._client.batch_get_item(RequestItems=request)
                for item in resp["Responses"].get(self.table.name, []):
                    body = json.loads(item["body"])
                    found[body["equipment_id"]] = {**body, "synced_at": item.get("synced_at")}
                request = resp.get("UnprocessedKeys") or {}
                if request:
                    attempt += 1
                    time.sleep(min(2.0, 0.05 * 2 ** attempt))
        return found

    def keys_for_source(self, source: str) -> set[str]:
        """Every stored key of one source (the full-run sweep; a scan, so only on full runs)."""
        keys: set[str] = set()
        for item in self._scan(ProjectionExpression="PK, #s", ExpressionAttributeNames={"#s": "source"}):
            if item.get("source") == source and item["PK"].startswith("REC#"):
                keys.add(item["PK"][4:])
        return keys

    def scan_records(self) -> Iterator[Any]:
        for item in self._scan(ProjectionExpression="PK, body"):
            if item["PK"].startswith("REC#"):
                yield record_from_json(item["body"])

    def _scan(self, **kwargs) -> Iterator[dict]:
        start = None
        while True:
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.table.scan(**kwargs)
            yield from resp.get("Items", [])
            start = resp.get("LastEvaluatedKey")
            if not start:
                return

    # -- sync state and leases -----------------------------------------------------------------
    def get_state(self, name: str) -> dict:
        item = self.table.get_item(Key={"PK": f"SYNC#{name}", "SK": STATE_SK}, ConsistentRead=True).get("Item")
        return json.loads(item["state"]) if item and item.get("state") else {}

    def put_state(self, name: str, state: dict, owner: str) -> None:
        """Save the checkpoint, but only while we still hold the lease (a stale run cannot clobber)."""
        from botocore.exceptions import ClientError

        try:
            self.table.update_item(
                Key={"PK": f"SYNC#{name}", "SK": STATE_SK}, UpdateExpression="SET #st = :s",
                ConditionExpression="lease_owner = :o", ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={":s": json.dumps(state, ensure_ascii=False), ":o": owner})
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise LeaseHeld(name) from exc
            raise

    def acquire_lease(self, name: str, owner: str, ttl_seconds: int) -> None:
        from botocore.exceptions import ClientError

        now = int(self._clock())
        try:
            self.table.update_item(
                Key={"PK": f"SYNC#{name}", "SK": STATE_SK},
                UpdateExpression="SET lease_owner = :o, lease_until = :u",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :o",
                ExpressionAttributeValues={":o": owner, ":u": now + ttl_seconds, ":now": now})
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise LeaseHeld(name) from exc
            raise

    def release_lease(self, name: str, owner: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.table.update_item(
                Key={"PK": f"SYNC#{name}", "SK": STATE_SK}, UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :o", ExpressionAttributeValues={":o": owner})
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise


class S3Blobs:
    """Small helper over the catalog bucket: JSON (gzip) objects, pending index deltas, snapshots."""

    PENDING = "index/pending/"

    def __init__(self, client: Any, bucket: str) -> None:
        self.s3, self.bucket = client, bucket

    def put_json(self, key: str, value: Any, level: int = 5) -> None:
        # pydantic-core's serialiser: compact UTF-8 JSON like json.dumps(ensure_ascii=False), 3x
        # faster on an index delta (thousands of token lists)
        body = gzip.compress(to_json(value), level)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json",
                           ContentEncoding="gzip")

    def get_json(self, key: str) -> Any | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(gzip.decompress(body))

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            if chunk:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk],
                                                                   "Quiet": True})

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def put_delta(self, source: str, upserts: list[dict], removes: list[str]) -> str:
        # Time-ordered names: the rebuild applies deltas in the order they were written.
        key = f"{self.PENDING}{time.time_ns():020d}-{source}-{uuid.uuid4().hex[:8]}.json.gz"
        # level 1: a delta lives until the next rebuild; speed matters more than its size
        self.put_json(key, {"source": source, "upserts": upserts, "removes": removes}, level=1)
        return key
