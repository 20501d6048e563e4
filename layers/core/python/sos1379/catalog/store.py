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
the same pydantic model that wrote it. Writes go through BatchWriteItem (boto3's batch_writer
re-sends unprocessed items); reads of existing hashes through BatchGetItem with a projection.

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


class DynamoCatalogStore:
    def __init__(self, table: Any, clock=time.time) -> None:
        self.table = table
        self._client = table.meta.client
        self._clock = clock

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
        count = 0
        with self.table.batch_writer(overwrite_by_pkeys=["PK", "SK"]) as batch:
            for record, content_hash in records:
                batch.put_item(Item=self.item_of(record, content_hash, synced_at))
                count += 1
        return count

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

    def put_json(self, key: str, value: Any) -> None:
        body = gzip.compress(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 5)
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
        self.put_json(key, {"source": source, "upserts": upserts, "removes": removes})
        return key
