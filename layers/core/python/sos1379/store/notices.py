"""The notifier's items (sos1379.notify): delivery markers, notices held for an unconfirmed
contact, link tokens and per-recipient daily counters. A mixin of ``CaseStore``."""
from __future__ import annotations

from ..errors import is_conditional_failure
from ..events import CaseEvent
from .items import (event_item, from_dynamo, held_notice_key, key_of, link_token_key, notice_marker_key,
                    notice_marker_prefix, recipient_counter_key, to_dynamo)


class NoticeRecords:
    # --- delivery markers: claim before the provider call, settle after ------------------------------
    def notice_marker(self, case_id: str, event_id: str, channel: str) -> dict | None:
        item = self.table.get_item(Key=notice_marker_key(case_id, event_id, channel), ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    def notice_markers(self, case_id: str, event_id: str) -> list[dict]:
        """Every channel's marker of one event: one Query."""
        from boto3.dynamodb.conditions import Key

        out = self.table.query(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}")
                               & Key("SK").begins_with(notice_marker_prefix(event_id)), ConsistentRead=True)
        return out["Items"]

    def claim_notice(self, case_id: str, event_id: str, channel: str, claim: dict, event: CaseEvent) -> bool:
        """Put the ``sending`` marker (``claim``: its attributes) with its history entry, unless a
        marker exists (then False)."""
        item = {**notice_marker_key(case_id, event_id, channel), "kind": "notify_marker", "state": "sending", **claim}
        return self._transact_unless_first_fails([self._put_new_action(to_dynamo(item)), self._event_put(event)])

    def release_notice_claim(self, case_id: str, event_id: str, channel: str, event: CaseEvent) -> bool:
        """Delete a marker still ``sending`` (the provider did not take the message) with the
        history entry saying why; False when the marker had moved on."""
        delete = {"Delete": {"TableName": self.table_name, "Key": notice_marker_key(case_id, event_id, channel),
                             "ConditionExpression": "#s = :sending", "ExpressionAttributeNames": {"#s": "state"},
                             "ExpressionAttributeValues": {":sending": "sending"}}}
        return self._transact_unless_first_fails([delete, self._event_put(event)])

    def settle_notice(self, case_id: str, event_id: str, channel: str, outcome: dict, event: CaseEvent) -> bool:
        """Move a ``sending`` marker to ``outcome["state"]`` with the provider's answer (``settled_at``,
        ``provider``, ``provider_message_id``, ``reason``, ``route``, ``fallback_reason``) and the
        history entry; False when a concurrent attempt settled it first."""
        update = {"Update": {"TableName": self.table_name, "Key": notice_marker_key(case_id, event_id, channel),
                             "UpdateExpression": "SET #s = :st, settled_at = :at, provider = :p, "
                                                 "provider_message_id = :m, reason = :r, route = :rt, "
                                                 "fallback_reason = :fr",
                             "ConditionExpression": "#s = :sending",
                             "ExpressionAttributeNames": {"#s": "state"},
                             "ExpressionAttributeValues": {":st": outcome["state"], ":at": outcome["settled_at"],
                                                           ":p": outcome["provider"],
                                                           ":m": outcome["provider_message_id"],
                                                           ":r": outcome["reason"], ":rt": outcome["route"],
                                                           ":fr": outcome["fallback_reason"],
                                                           ":sending": "sending"}}}
        return self._transact_unless_first_fails([update, self._event_put(event)])

    # --- notices held until the contact is confirmed (sos1379.verification) ----------------------------
    def hold_notice(self, case_id: str, event_id: str, channel: str, notice: dict, event: CaseEvent) -> bool:
        """Keep one channel's notice (``notice``: its attributes) with the ``held`` history entry;
        False when it is held already."""
        item = {**held_notice_key(case_id, event_id, channel), "kind": "held_notice", **notice}
        return self._transact_unless_first_fails([self._put_new_action(to_dynamo(item)), self._event_put(event)])

    def held_notices(self, case_id: str) -> list[dict]:
        """Notices held for an unconfirmed contact (``HELD#{event_id}#{channel}``), oldest first."""
        from boto3.dynamodb.conditions import Key

        out = self.table.query(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("HELD#"),
                               ConsistentRead=True)
        return sorted((from_dynamo(i) for i in out["Items"]), key=lambda i: str(i.get("held_at")))

    def held_notice_count(self, case_id: str) -> int:
        from boto3.dynamodb.conditions import Key

        out = self.table.query(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("HELD#"),
                               Select="COUNT", ConsistentRead=True)
        return int(out.get("Count", 0))

    def forget_held_notice(self, notice: dict) -> None:
        """Delete a held notice (as read by ``held_notices``) once it was handled again."""
        self.table.delete_item(Key=key_of(notice))

    # --- link tokens (sos1379.notify.links) ------------------------------------------------------------
    def put_link_token(self, token: str, record: dict) -> None:
        """Store a new link token (only its hash is in the key) with ``record`` (case, language,
        purpose, expiry)."""
        self.table.put_item(Item={**link_token_key(token), "kind": "link_token", **record},
                            ConditionExpression="attribute_not_exists(PK)")

    def link_token(self, token: str) -> dict | None:
        return self.table.get_item(Key=link_token_key(token), ConsistentRead=True).get("Item")

    # --- per-recipient daily caps (sos1379.notify.limits) ------------------------------------------------
    def count_message_to(self, channel: str, recipient: str, seoul_day: str, cap: int, expires_at: int) -> bool:
        """Count one message to ``recipient`` on that Seoul day; False (nothing counted) once ``cap``
        were counted."""
        try:
            self.table.update_item(Key=recipient_counter_key(channel, recipient, seoul_day),
                                   UpdateExpression="ADD #n :one SET expires_at = :exp, kind = :kind",
                                   ConditionExpression="attribute_not_exists(#n) OR #n < :cap",
                                   ExpressionAttributeNames={"#n": "n"},
                                   ExpressionAttributeValues={":one": 1, ":cap": cap, ":exp": expires_at,
                                                              ":kind": "recipient_counter"})
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def _event_put(self, event: CaseEvent) -> dict:
        # a notifier's history entry is put unconditionally (its id is fresh)
        return {"Put": {"TableName": self.table_name, "Item": event_item(event)}}
