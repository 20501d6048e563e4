"""The case store: cases, history, referrals, hand-offs, company records and reservations (the
key table is in the package docstring, ``sos1379.store``)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from itertools import islice
from typing import Any, Iterator, TypeVar

from ..errors import (CONDITION_FAILED, CaseNotFound, ConcurrentUpdate, NotFound, SlotTaken, cancellation_codes,
                      is_conditional_failure)
from ..events import CaseEvent
from ..lifecycle import OPEN_STATUSES
from .access import AccessRecords
from .attachments import AttachmentRecords
from .items import (FOLLOWUPS_PENDING, case_key, case_number_key, day_counter_key, event_item, follow_up_item,
                    from_dynamo, from_item, idempotency_key, key_of, referral_key, status_index, to_dynamo, to_item)
from .notices import NoticeRecords
from .stats import StatsRecords

T = TypeVar("T")


def retry_on_concurrent_update(action: Callable[[], T], attempts: int = 3) -> T:
    """Run ``action`` (which must re-read what it changes) again when another writer won the
    version race; the last ConcurrentUpdate propagates."""
    for attempt in range(attempts):
        try:
            return action()
        except ConcurrentUpdate:
            if attempt + 1 == attempts:
                raise
    raise ConcurrentUpdate()  # attempts < 1


class CaseStore(NoticeRecords, AccessRecords, StatsRecords, AttachmentRecords):
    """Case persistence. Takes a boto3 DynamoDB *resource*; its client serialises Python values.
    Intake's calls (idempotency record, case number, the company's recent cases, the case
    transaction) go through :attr:`raw`, a plain client, with items in DynamoDB's own format
    (``items.to_item`` / ``from_item``): the resource layer cost a third of intake's time above its
    floor (README, "intake POST /cases" benchmark)."""

    def __init__(self, table_name: str, dynamodb=None) -> None:
        self._shared_clients = dynamodb is None
        if dynamodb is None:
            from ..aws import resource

            dynamodb = resource("dynamodb")
        self.table = dynamodb.Table(table_name)
        self.client = dynamodb.meta.client
        self.table_name = table_name
        self._raw = None

    @property
    def raw(self):
        """A plain DynamoDB client (no resource layer) on the resource's endpoint, region, settings
        and credentials: the process's shared one unless the store was given its own resource."""
        if self._raw is None:
            from ..aws import plain_client, plain_twin

            self._raw = plain_client("dynamodb") if self._shared_clients else plain_twin(self.client)
        return self._raw

    # --- creation ------------------------------------------------------------------------------
    def next_case_number(self, now: datetime) -> str:
        """``YYMMDD-NNNN`` (Seoul date): short enough to read over the phone; gaps are harmless."""
        from ..korea import SEOUL

        day = now.astimezone(SEOUL).strftime("%y%m%d")
        out = self.raw.update_item(TableName=self.table_name, Key=to_item(day_counter_key(day)),
                                   UpdateExpression="ADD #v :one", ExpressionAttributeNames={"#v": "value"},
                                   ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
        return f"{day}-{int(out['Attributes']['value']['N']):04d}"

    def create_case(self, case: dict, event: CaseEvent, *, idempotency: dict | None = None,
                    company_key: str | None = None, company_match_text: str | None = None) -> None:
        """Store the case, its number lookup, its first event, (optionally) the idempotency
        record and (with ``company_key``) its company-record entry, carrying
        ``company_match_text`` for the duplicate check, in one transaction (which fails as a whole
        if any of them already exists)."""
        item = {**case, **case_key(case["case_id"]), "kind": "case", **status_index(case)}
        first_event = event_item(event)
        puts = [item, {**case_number_key(case["case_number"]), "case_id": case["case_id"]}, first_event]
        if idempotency is not None:
            puts.append(idempotency)
        if company_key is not None:
            puts.append(self.company_case_item(company_key, case, company_match_text))
        actions = [{"Put": {"TableName": self.table_name, "Item": to_item(p),
                            "ConditionExpression": "attribute_not_exists(PK)"}} for p in puts]
        try:
            self.raw.transact_write_items(TransactItems=actions)
        except Exception as exc:
            # A retry of a transaction that was applied but whose answer was lost fails on its own
            # items (DynamoDB dedupes on the SDK's ClientRequestToken for 10 minutes, moto never).
            # Our event's id is fresh and the transaction all-or-nothing: if the event is stored,
            # so is the case, and the write was ours.
            if not is_conditional_failure(exc):
                raise
            key = {"PK": first_event["PK"], "SK": first_event["SK"]}
            if "Item" not in self.table.get_item(Key=key, ConsistentRead=True):
                raise

    # --- idempotency keys ----------------------------------------------------------------------
    @staticmethod
    def idempotency_key(key: str) -> dict:
        return idempotency_key(key)

    def get_idempotency(self, key: str) -> dict | None:
        out = self.raw.get_item(TableName=self.table_name, Key=to_item(self.idempotency_key(key)), ConsistentRead=True)
        item = from_item(out["Item"]) if "Item" in out else None
        if item and int(item.get("expires_at", 0)) < int(datetime.now(timezone.utc).timestamp()):
            return None
        return item

    # --- reads ------------------------------------------------------------------------------------
    def get_case(self, case_id: str, *, consistent: bool = True) -> dict:
        out = self.table.get_item(Key=case_key(case_id), ConsistentRead=consistent)
        if "Item" not in out:
            raise CaseNotFound()
        return from_dynamo(out["Item"])

    def find_case_id_by_number(self, case_number: str) -> str:
        out = self.table.get_item(Key=case_number_key(case_number))
        if "Item" not in out:
            raise CaseNotFound()
        return out["Item"]["case_id"]

    def history(self, case_id: str) -> list[dict]:
        return [from_dynamo(i) for i in self._query_partition(case_id, "EVENT#")]

    def referrals(self, case_id: str) -> list[dict]:
        return [from_dynamo(i) for i in self._query_partition(case_id, "REFERRAL#")]

    def _query_partition(self, case_id: str, prefix: str) -> Iterator[dict]:
        from boto3.dynamodb.conditions import Key

        yield from self._pages(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with(prefix),
                               ConsistentRead=True)

    def _pages(self, **query: Any) -> Iterator[dict]:
        """Every item a query matches, page after page (the raw items, not yet ``from_dynamo``)."""
        while True:
            out = self.table.query(**query)
            yield from out["Items"]
            if "LastEvaluatedKey" not in out:
                return
            query["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def _batch_get(self, keys: list[dict], **projection: Any) -> Iterator[dict]:
        """The items of ``keys`` that exist (BatchGetItem, 100 keys a call, unprocessed keys
        asked again), as Python values (``from_item``) in no particular order."""
        for start in range(0, len(keys), 100):
            request = {self.table_name: {"Keys": [to_item(k) for k in keys[start:start + 100]], **projection}}
            while request:
                out = self.raw.batch_get_item(RequestItems=request)
                yield from map(from_item, out.get("Responses", {}).get(self.table_name, []))
                request = out.get("UnprocessedKeys") or None

    def _put_new_action(self, item: dict) -> dict:
        return {"Put": {"TableName": self.table_name, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}

    def _transact_unless_first_fails(self, actions: list[dict]) -> bool:
        """Run ``actions`` in one transaction; False when the first action's condition failed (so
        nothing was written); any other failure propagates."""
        try:
            self.client.transact_write_items(TransactItems=actions)
        except Exception as exc:
            if is_conditional_failure(exc, action=0):
                return False
            raise
        return True

    def _by_owner_status(self, owner_key: str, status: str | None) -> list[dict]:
        """The InstituteStatus index: an owner's (``INST#code`` / ``PARTNER#code``) items, all or
        of one status."""
        from boto3.dynamodb.conditions import Key

        cond = Key("GSI2PK").eq(owner_key)
        if status:
            cond = cond & Key("GSI2SK").begins_with(f"{status}#")
        return [from_dynamo(i) for i in self._pages(IndexName="InstituteStatus", KeyConditionExpression=cond)]

    def open_cases_due_before(self, until_iso: str, statuses=None) -> Iterator[dict]:
        """Open cases whose guidance is due before ``until_iso``, via GSI1 (cost ~ cases due)."""
        from boto3.dynamodb.conditions import Key

        for status in statuses or sorted(OPEN_STATUSES):
            cond = Key("GSI1PK").eq(f"STATUS#{status}") & Key("GSI1SK").lte(f"{until_iso}#~")
            for item in self._pages(IndexName="StatusDue", KeyConditionExpression=cond):
                yield from_dynamo(item)

    @staticmethod
    def referral_key(case_id: str, institute: str) -> dict:
        return referral_key(case_id, institute)

    def get_referral(self, case_id: str, institute: str) -> dict | None:
        out = self.table.get_item(Key=self.referral_key(case_id, institute), ConsistentRead=True)
        return from_dynamo(out["Item"]) if "Item" in out else None

    def mark_referral_sent(self, case_id: str, institute: str, referral_id: str, at: str) -> bool:
        """Flag the referral's message as sent, unless a newer referral replaced it meanwhile
        (then False: the flag belongs to the newer one)."""
        try:
            self.table.update_item(
                Key=self.referral_key(case_id, institute),
                UpdateExpression="SET message_sent = :t, message_sent_at = :at",
                ConditionExpression="attribute_exists(PK) AND referral_id = :rid",
                ExpressionAttributeValues={":t": True, ":at": at, ":rid": referral_id})
        except Exception as exc:  # noqa: BLE001 - only the lost race is expected
            if not is_conditional_failure(exc):
                raise
            return False
        return True

    def referral_status_action(self, referral: dict, status: str, at: str, extra: dict | None = None) -> dict:
        """Move an existing referral item to ``status`` (index key included) without rewriting it,
        so a concurrent ``message_sent`` flag is never lost."""
        sets = {"status": status, "updated_at": at,
                "GSI2SK": f"{status}#{referral['referred_at']}#{referral['case_id']}", **(extra or {})}
        return self._set_action(self.referral_key(referral["case_id"], referral["institute"]), sets)

    def _set_action(self, key: dict, sets: dict, expected_first: Any = None) -> dict:
        """A transaction Update that SETs ``sets`` on ``key``; with ``expected_first``, only while
        the first attribute of ``sets`` still holds that value (it was read in that state)."""
        names = {f"#f{i}": k for i, k in enumerate(sets)}
        values = {f":v{i}": to_dynamo(v) for i, v in enumerate(sets.values())}
        update = {"TableName": self.table_name, "Key": key,
                  "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets))),
                  "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        if expected_first is not None:
            values[":expected"] = expected_first
            update["ConditionExpression"] = "#f0 = :expected"
        return {"Update": update}

    def institute_referrals(self, code: str, status: str | None = None) -> list[dict]:
        """An institute's referrals by status, through the InstituteStatus index (never a scan)."""
        return self._by_owner_status(f"INST#{code}", status)

    # --- partner hand-offs -------------------------------------------------------------------------
    def handoff_put_action(self, handoff: dict) -> dict:
        """A new hand-off item (one per case and partner; a second hand-off to the same partner
        replaces the first)."""
        item = to_dynamo({**handoff, "PK": f"CASE#{handoff['case_id']}", "SK": f"HANDOFF#{handoff['partner']}",
                          "kind": "handoff", "GSI2PK": f"PARTNER#{handoff['partner']}",
                          "GSI2SK": f"{handoff['status']}#{handoff['handed_off_at']}#{handoff['case_id']}"})
        return {"Put": {"TableName": self.table_name, "Item": item}}

    def handoff_status_action(self, handoff: dict, status: str, at: str, extra: dict | None = None) -> dict:
        """Move a hand-off to ``status``, only while it is still in the status it was read in."""
        sets = {"status": status, "updated_at": at,
                "GSI2SK": f"{status}#{handoff['handed_off_at']}#{handoff['case_id']}", **(extra or {})}
        return self._set_action({"PK": f"CASE#{handoff['case_id']}", "SK": f"HANDOFF#{handoff['partner']}"}, sets,
                                expected_first=handoff["status"])

    def get_handoff(self, case_id: str, partner: str) -> dict | None:
        out = self.table.get_item(Key={"PK": f"CASE#{case_id}", "SK": f"HANDOFF#{partner}"}, ConsistentRead=True)
        return from_dynamo(out["Item"]) if "Item" in out else None

    def handoffs(self, case_id: str) -> list[dict]:
        return [from_dynamo(i) for i in self._query_partition(case_id, "HANDOFF#")]

    def partner_handoffs(self, code: str, status: str | None = None) -> list[dict]:
        """A partner's hand-offs by status, through the InstituteStatus index (never a scan)."""
        return self._by_owner_status(f"PARTNER#{code}", status)

    # --- company record ---------------------------------------------------------------------------
    @staticmethod
    def company_case_item(company_key: str, case: dict, match_text: str | None = None) -> dict:
        """The company-record entry of a case: ids, dates and (``match_text``) the normalised text
        the duplicate check compares, so that check is one bounded Query (sos1379.companies)."""
        return to_dynamo({"PK": f"COMPANY#{company_key}", "SK": f"CASE#{case['created_at']}#{case['case_id']}",
                          "kind": "company_case", "case_id": case["case_id"], "case_number": case["case_number"],
                          "created_at": case["created_at"], "channel": case.get("channel"),
                          "match_text": match_text})

    def company_cases(self, company_key: str, since_iso: str | None = None, *, limit: int | None = None) -> list[dict]:
        """Entries of a company's cases (newest first), optionally only those created since and at
        most ``limit`` of them."""

        query: dict[str, Any] = {
            "TableName": self.table_name, "ScanIndexForward": False, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk AND " + ("SK >= :sk" if since_iso else "begins_with(SK, :sk)"),
            "ExpressionAttributeValues": {":pk": {"S": f"COMPANY#{company_key}"},
                                          ":sk": {"S": f"CASE#{since_iso}" if since_iso else "CASE#"}}}
        if limit:
            query["Limit"] = limit
        return list(islice(self._raw_pages(query), limit or None))

    def _raw_pages(self, query: dict) -> Iterator[dict]:
        """``_pages`` through the plain client: every item of a low-level query, as Python values."""
        while True:
            out = self.raw.query(**query)
            yield from map(from_item, out["Items"])
            if "LastEvaluatedKey" not in out:
                return
            query["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def get_cases(self, case_ids: list[str], fields: list[str] | None = None) -> list[dict]:
        """Several cases by id (BatchGetItem, 100 a call), whole or only ``fields`` (``case_id`` is
        always read); unknown ids are left out, order kept."""
        found: dict[str, dict] = {}
        ids = list(dict.fromkeys(case_ids))
        projection = {}
        if fields:
            names = {f"#p{i}": f for i, f in enumerate(dict.fromkeys(["case_id", *fields]))}
            projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        for item in self._batch_get([case_key(i) for i in ids], **projection):
            found[item["case_id"]] = item
        return [found[i] for i in ids if i in found]

    # --- writes -----------------------------------------------------------------------------------
    def update_case(self, case: dict, changes: dict, events: list[CaseEvent] = (),
                    extra_actions: list[dict] = ()) -> dict:
        """Apply ``changes`` to the case if nobody changed it since ``case`` was read (its
        ``version``), append ``events`` and run ``extra_actions`` in the same transaction.
        Raises ConcurrentUpdate when the version moved. Returns the new case."""
        action, new = self.case_update_action(case, changes)
        actions = [action]
        actions += [{"Put": {"TableName": self.table_name, "Item": event_item(e),
                             "ConditionExpression": "attribute_not_exists(PK)"}} for e in events]
        actions += list(extra_actions)
        try:
            self.client.transact_write_items(TransactItems=actions)
        except Exception as exc:
            if is_conditional_failure(exc, action=0):  # the case's version moved
                raise ConcurrentUpdate() from None
            raise
        return {k: v for k, v in new.items() if v is not None}

    def case_update_action(self, case: dict, changes: dict) -> tuple[dict, dict]:
        """The conditional (``version``) Update action that applies ``changes`` to ``case``, and the
        case it produces; lets one transaction change two cases (a merge)."""
        new = {**case, **changes, "version": int(case["version"]) + 1}
        updates = {**changes, "version": new["version"]}
        if "status" in changes or "guidance_due_at" in changes or "sla_due_at" in changes:
            updates.update(status_index(new))
        names, values, sets, removes = {}, {}, [], []
        for i, (attr, value) in enumerate(updates.items()):
            names[f"#a{i}"] = attr
            if value is None:  # None removes the attribute
                removes.append(f"#a{i}")
            else:
                values[f":v{i}"] = to_dynamo(value)
                sets.append(f"#a{i} = :v{i}")
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        values[":expected"] = int(case["version"])
        action = {"Update": {"TableName": self.table_name, "Key": case_key(case["case_id"]),
                             "UpdateExpression": expr, "ConditionExpression": "version = :expected",
                             "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}
        return action, new

    def event_put_action(self, event: CaseEvent) -> dict:
        return {"Put": {"TableName": self.table_name, "Item": event_item(event),
                        "ConditionExpression": "attribute_not_exists(PK)"}}

    def append_event(self, event: CaseEvent) -> None:
        """Add a history entry that does not change the case (notes, notification attempts)."""
        self.table.put_item(Item=event_item(event), ConditionExpression="attribute_not_exists(PK)")

    def mark_event_alerted(self, event: CaseEvent, at: str) -> None:
        """Note on a stored history event that its alert went out (sos1379.sla)."""
        self.table.update_item(Key=key_of(event_item(event)), UpdateExpression="SET alerted_at = :t",
                               ExpressionAttributeValues={":t": at}, ConditionExpression="attribute_exists(PK)")

    # --- follow-up check-ins (sos1379.followups) -----------------------------------------------------
    def follow_up_actions(self, case_id: str, due_by_stage: dict[str, str], resolved_at: str) -> list[dict]:
        """Pending check-ins of a resolved case, to write in the resolving transaction."""
        return [{"Put": {"TableName": self.table_name, "Item": follow_up_item(case_id, stage, due, resolved_at)}}
                for stage, due in due_by_stage.items()]

    def follow_ups_due(self, now: str) -> list[dict]:
        """Pending check-ins due at or before the instant ``now`` (ISO), soonest first."""
        from boto3.dynamodb.conditions import Key

        return list(self._pages(KeyConditionExpression=Key("PK").eq(FOLLOWUPS_PENDING) & Key("SK").lte(f"{now}#~"),
                                ConsistentRead=True))

    def forget_follow_up_action(self, follow_up: dict) -> dict:
        return {"Delete": {"TableName": self.table_name, "Key": key_of(follow_up)}}

    def forget_follow_up(self, follow_up: dict) -> None:
        self.table.delete_item(Key=key_of(follow_up))

    def referral_put_action(self, referral: dict, *, must_be_new: bool) -> dict:
        item = to_dynamo({**referral, "PK": f"CASE#{referral['case_id']}", "SK": f"REFERRAL#{referral['institute']}",
                          "kind": "referral", "GSI2PK": f"INST#{referral['institute']}",
                          "GSI2SK": f"{referral['status']}#{referral['referred_at']}#{referral['case_id']}"})
        action = {"Put": {"TableName": self.table_name, "Item": item}}
        if must_be_new:
            action["Put"]["ConditionExpression"] = "attribute_not_exists(PK)"
        return action

    # --- equipment reservations ---------------------------------------------------------------------
    @staticmethod
    def _hold_key(equipment_id: str, hour: str) -> dict:
        return {"PK": f"EQUIP#{equipment_id}", "SK": f"HOUR#{hour}"}

    def _reservation_item(self, reservation: dict) -> dict:
        return to_dynamo({**reservation, "PK": f"CASE#{reservation['case_id']}",
                          "SK": f"RESERVATION#{reservation['reservation_id']}", "kind": "reservation",
                          "GSI2PK": f"RESV#{reservation['institute']}",
                          "GSI2SK": f"{reservation['status']}#{reservation['created_at']}#{reservation['reservation_id']}"})

    def _hold_put(self, reservation: dict, hour: str, expires_at: int) -> dict:
        item = {**self._hold_key(reservation["equipment_id"], hour), "kind": "equipment_hold",
                "reservation_id": reservation["reservation_id"], "case_id": reservation["case_id"],
                "expires_at": expires_at}
        return {"Put": {"TableName": self.table_name, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}

    def _hold_delete(self, reservation: dict, hour: str) -> dict:
        return {"Delete": {"TableName": self.table_name, "Key": self._hold_key(reservation["equipment_id"], hour),
                           "ConditionExpression": "attribute_not_exists(PK) OR reservation_id = :rid",
                           "ExpressionAttributeValues": {":rid": reservation["reservation_id"]}}}

    def create_reservation(self, reservation: dict, hours: list[str], event: CaseEvent, expires_at: int) -> None:
        """Hold every hour of the slot, store the reservation, its id lookup and its history event,
        all or nothing. Raises SlotTaken when any hour is already held."""
        actions = [self._hold_put(reservation, h, expires_at) for h in hours]
        actions += [
            {"Put": {"TableName": self.table_name, "Item": self._reservation_item(reservation),
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"TableName": self.table_name,
                     "Item": {"PK": f"RESERVATION#{reservation['reservation_id']}", "SK": "META",
                              "kind": "reservation_id", "case_id": reservation["case_id"]},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            self.event_put_action(event),
        ]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except Exception as exc:
            if CONDITION_FAILED in cancellation_codes(exc)[:len(hours)]:
                raise SlotTaken() from None
            raise

    def change_reservation(self, reservation: dict, changes: dict, event: CaseEvent, *,
                           release: list[str] = (), hold: list[str] = (), expires_at: int = 0) -> dict:
        """Apply ``changes`` if the reservation is still in the status it was read in, release and
        take hold hours and append ``event``, in one transaction. Raises SlotTaken when a new
        hour is held by someone else, ConcurrentUpdate when the status moved meanwhile."""
        new = {**reservation, **changes}
        sets = {**changes, "GSI2SK": f"{new['status']}#{new['created_at']}#{new['reservation_id']}"}
        names = {f"#f{i}": k for i, k in enumerate(sets)}
        values = {f":v{i}": to_dynamo(v) for i, v in enumerate(sets.values())}
        values[":expected"] = reservation["status"]
        names["#status"] = "status"
        update = {"Update": {"TableName": self.table_name,
                             "Key": {"PK": f"CASE#{reservation['case_id']}",
                                     "SK": f"RESERVATION#{reservation['reservation_id']}"},
                             "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets))),
                             "ConditionExpression": "#status = :expected",
                             "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}
        # hours both released and held (a proposal overlapping the old slot) stay ours untouched
        to_hold = [h for h in hold if h not in set(release)]
        to_release = [h for h in release if h not in set(hold)]
        actions = [update, *[self._hold_put(new, h, expires_at) for h in to_hold],
                   *[self._hold_delete(reservation, h) for h in to_release], self.event_put_action(event)]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except Exception as exc:
            codes = cancellation_codes(exc)
            if codes[:1] == [CONDITION_FAILED]:
                raise ConcurrentUpdate() from None
            if CONDITION_FAILED in codes[1:1 + len(to_hold)]:
                raise SlotTaken() from None
            raise
        return new

    def held_hours(self, equipment_id: str, first_hour: str, last_hour: str) -> set[str]:
        """Hours of one instrument held by our live reservations between two UTC hours (inclusive)."""
        from boto3.dynamodb.conditions import Key

        cond = Key("PK").eq(f"EQUIP#{equipment_id}") & Key("SK").between(f"HOUR#{first_hour}", f"HOUR#{last_hour}")
        return {i["SK"][5:] for i in self._pages(KeyConditionExpression=cond, ProjectionExpression="SK")}

    def get_reservation(self, reservation_id: str) -> dict:
        """A reservation by id (NotFound when unknown)."""
        pointer = self.table.get_item(Key={"PK": f"RESERVATION#{reservation_id}", "SK": "META"}).get("Item")
        if not pointer:
            raise NotFound()
        out = self.table.get_item(Key={"PK": f"CASE#{pointer['case_id']}", "SK": f"RESERVATION#{reservation_id}"},
                                  ConsistentRead=True)
        if "Item" not in out:
            raise NotFound()
        return from_dynamo(out["Item"])

    def case_reservations(self, case_id: str) -> list[dict]:
        return [from_dynamo(i) for i in self._query_partition(case_id, "RESERVATION#")]

    def set_reservation_fields(self, reservation: dict, fields: dict) -> None:
        """Bookkeeping that is no status change (the source's reservation number)."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": to_dynamo(v) for i, v in enumerate(fields.values())}
        self.table.update_item(Key={"PK": f"CASE#{reservation['case_id']}",
                                    "SK": f"RESERVATION#{reservation['reservation_id']}"},
                               UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                               ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    def institute_reservations(self, code: str, status: str | None = None) -> list[dict]:
        """An institute's equipment reservations by status, through the InstituteStatus index."""
        return self._by_owner_status(f"RESV#{code}", status)
