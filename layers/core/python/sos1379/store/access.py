"""Items that guard access: request counters (sos1379.ratelimit, sos1379.recovery), institute API
keys (sos1379.institutes.keys) and contact-verification codes (sos1379.verification). A mixin of
``CaseStore``."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from ..errors import ConcurrentUpdate, is_conditional_failure
from ..events import iso
from .items import (api_key_items, api_key_key, api_key_ref_key, contact_code_key, from_dynamo, recovery_miss_key,
                    recovery_window_key, rate_window_key, to_dynamo)


class AccessRecords:
    # --- request counters ------------------------------------------------------------------------------
    def count_request(self, name: str, client: str, window: int, limit: int, expires_at: int) -> bool:
        """Count one request of ``client`` in the fixed window starting at ``window`` (epoch
        seconds) of the limit ``name``; False (nothing counted) once ``limit`` were counted."""
        return self._count_up(rate_window_key(name, client, window), "n", limit, expires_at)

    def count_link_request(self, scope: str, subject: str, hour: str, limit: int, expires_at: int) -> bool:
        """Count one lost-link request of ``subject`` (a case number or a client) in its hour
        (``YYYYmmddHH``); False once ``limit`` were counted."""
        return self._count_up(recovery_window_key(scope, subject, hour), "hits", limit, expires_at)

    def _count_up(self, key: dict, counter: str, limit: int, expires_at: int) -> bool:
        try:
            self.table.update_item(
                Key=key,
                UpdateExpression="ADD #n :one SET expires_at = :exp, kind = :kind",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": counter},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":kind": "rate_counter", ":exp": expires_at})
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def record_link_request_miss(self, case_number: str, at: datetime, expires_at: int) -> None:
        """The one write of a lost-link request that matched nothing (the same work as a match;
        nothing personal is kept)."""
        self.table.put_item(Item={**recovery_miss_key(case_number, at), "kind": "recover_miss", "at": iso(at),
                                  "expires_at": expires_at})

    # --- institute API keys ----------------------------------------------------------------------------
    def put_api_key(self, code: str, key_hash: str, record: dict) -> None:
        """Store a new key of ``code`` (``record``: institute, key_id, created_at, revoked)."""
        key_item, ref_item = api_key_items(code, key_hash, record)
        self.client.transact_write_items(TransactItems=[
            self._put_new_action(key_item), {"Put": {"TableName": self.table_name, "Item": ref_item}}])

    def seed_api_keys(self, keys: Iterable[tuple[str, str, dict]]) -> None:
        """Write ``(code, key_hash, record)`` keys in batches, overwriting (idempotent)."""
        with self.table.batch_writer() as batch:
            for code, key_hash, record in keys:
                for item in api_key_items(code, key_hash, record):
                    batch.put_item(Item=item)

    def api_key(self, key_hash: str) -> dict | None:
        return self.table.get_item(Key=api_key_key(key_hash)).get("Item")

    def api_key_refs(self, code: str) -> list[dict]:
        """The references of every key of ``code`` (one Query)."""
        from boto3.dynamodb.conditions import Key

        out = self.table.query(KeyConditionExpression=Key("PK").eq(f"INSTKEY#{code}") & Key("SK").begins_with("KEY#"))
        return [from_dynamo(i) for i in out["Items"]]

    def api_key_ref(self, code: str, key_id: str) -> dict | None:
        return self.table.get_item(Key=api_key_ref_key(code, key_id), ConsistentRead=True).get("Item")

    def revoke_api_key(self, code: str, key_id: str, key_hash: str, at: str) -> None:
        for key in (api_key_key(key_hash), api_key_ref_key(code, key_id)):
            self.table.update_item(Key=key, UpdateExpression="SET revoked = :t, revoked_at = :at",
                                   ExpressionAttributeValues={":t": True, ":at": at})

    # --- contact-verification codes ----------------------------------------------------------------------
    def contact_codes(self, case_id: str) -> dict[str, dict]:
        """The case's ``VERIFY#{channel}`` items (hashed one-time codes), by channel."""
        from boto3.dynamodb.conditions import Key

        out = self.table.query(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("VERIFY#"),
                               ConsistentRead=True)
        return {item["channel"]: from_dynamo(item) for item in out["Items"]}

    def put_contact_codes(self, case_id: str, channel: str, record: dict, rev: int | None) -> None:
        """Put the channel's code list (``record``: codes, rev, expires_at) if nobody changed it
        since ``rev`` was read (None: it did not exist); ConcurrentUpdate otherwise."""
        item = {**contact_code_key(case_id, channel), "kind": "contact_code", "channel": channel, **record}
        kwargs: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)" if rev is None else "rev = :rev"}
        if rev is not None:
            kwargs["ExpressionAttributeValues"] = {":rev": rev}
        try:
            self.table.put_item(Item=to_dynamo(item), **kwargs)
        except Exception as exc:
            if is_conditional_failure(exc):
                raise ConcurrentUpdate() from None
            raise

    def drop_contact_codes_actions(self, case_id: str, channels: Iterable[str]) -> list[dict]:
        """Transaction actions that delete the codes of ``channels`` (once they are confirmed)."""
        return [{"Delete": {"TableName": self.table_name, "Key": contact_code_key(case_id, c)}} for c in channels]
