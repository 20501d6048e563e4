"""DynamoDB case store (single table): the only code that knows the table's keys, conditions and
transactions. Features ask ``CaseStore`` in domain terms (``claim_notice``, ``count_request``,
``cases_received_on``, ...); ``tests/unit/test_store_owns_keys.py`` fails when a key is written
anywhere else. Modules: ``items`` (keys, item shapes, codec), ``cases`` (``CaseStore``: cases,
history, referrals, hand-offs, company records, reservations, follow-ups) and its mixins
``notices`` (notifier), ``access`` (request counters, API keys, contact codes), ``stats``
(monthly counters) and ``attachments``.

Access patterns and keys:

| item            | PK                    | SK                              | GSI1 StatusDue (PK / SK)          | GSI2 InstituteStatus (PK / SK)      |
|-----------------|-----------------------|---------------------------------|-----------------------------------|-------------------------------------|
| case            | CASE#{case_id}        | META                            | STATUS#{status} / {due}#{case_id} |                                     |
| history event   | CASE#{case_id}        | EVENT#{epoch_ms}#{event_id}     |                                   |                                     |
| referral        | CASE#{case_id}        | REFERRAL#{institute}            |                                   | INST#{code} / {status}#{at}#{case}  |
| case number     | CASENO#{case_number}  | META                            |                                   |                                     |
| idempotency key | IDEMPOTENCY#{sha256}  | META                            |                                   |                                     |
| day counter     | COUNTER#{yymmdd}      | META                            |                                   |                                     |
| company case    | COMPANY#{hmac(brn)}   | CASE#{created_at}#{case_id}     |                                   |                                     |
| partner handoff | CASE#{case_id}        | HANDOFF#{partner}               |                                   | PARTNER#{code} / {status}#{at}#{case} |
| reservation     | CASE#{case_id}        | RESERVATION#{reservation_id}    |                                   | RESV#{code} / {status}#{at}#{id}    |
| reservation id  | RESERVATION#{id}      | META                            |                                   |                                     |
| equipment hold  | EQUIP#{equipment_id}  | HOUR#{UTC hour, YYYY-MM-DDTHH}  |                                   |                                     |
| attachment      | CASE#{case_id}        | ATTACHMENT#{attachment_id}      | ATTACHMENTS / {created}#{case}#{id} |                                   |
| contact code    | CASE#{case_id}        | VERIFY#{channel}                |                                   |                                     |
| delivery marker | CASE#{case_id}        | NOTIFY#{event_id}#{channel}     |                                   |                                     |
| held notice     | CASE#{case_id}        | HELD#{event_id}#{channel}       |                                   |                                     |
| link token      | LINK#{sha256(token)}  | META                            |                                   |                                     |
| recipient count | MSGCAP#{sha256(ch+to)[:32]} | D#{Seoul yyyymmdd}        |                                   |                                     |
| request count   | RATE#{name}#{sha256(client)[:32]} | W#{window epoch s}  |                                   |                                     |
| link requests   | RATE#recover#{scope}#{sha256} | {UTC yyyymmddHH}        |                                   |                                     |
| link miss       | RECOVER#{sha256}      | MISS                            |                                   |                                     |
| API key         | APIKEY#{sha256(key)}  | META                            |                                   |                                     |
| API key ref     | INSTKEY#{code}        | KEY#{key_id}                    |                                   |                                     |
| month stats     | STATS#{YYYY-MM}       | META                            |                                   |                                     |
| stats mark      | STATSMARK#{case_id}   | STATUS or {contribution}        |                                   |                                     |
| follow-up       | FOLLOWUP#PENDING      | {due}#{stage}#{case_id}         |                                   |                                     |

- get a case and its whole history: Query PK = CASE#id (one partition, events in time order).
- open cases due before T (SLA): Query GSI1 per open status with SK <= T (never a scan).
- an institute's referrals by status: Query GSI2 PK = INST#code, SK begins_with status.
- a company's cases, newest first, from any channel: Query PK = COMPANY#{key}, where the key is
  a keyed hash of the business number (sos1379.companies), never the number in clear.
- no double booking: an equipment reservation holds one ``EQUIP#/HOUR#`` item per hour it covers,
  each put with ``attribute_not_exists`` in the same transaction as the reservation and its event;
  any overlap with another live reservation cancels the whole transaction (``SlotTaken``). Answers
  that free or move the time delete (conditionally, only our own) or put hold items in the
  transaction that changes the reservation's status (conditional on the status it was read in).
- every update is conditional on ``version`` (optimistic locking) and writes the state change and
  its history event in one TransactWriteItems, so the stream (the outbox) sees both or neither.
"""
from __future__ import annotations

from .cases import CaseStore, retry_on_concurrent_update
from .items import case_key, event_item, from_dynamo, to_dynamo, without_storage_fields

__all__ = ["CaseStore", "case_key", "event_item", "from_dynamo", "retry_on_concurrent_update", "to_dynamo",
           "without_storage_fields"]
