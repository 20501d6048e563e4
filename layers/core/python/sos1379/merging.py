"""Folding a company's duplicate case into its earlier one.

The SME cannot write to the earlier case from the new one: the intake page holds only the new
case's tracking token. So the page's "same problem" answer is a *request*
(``POST /cases/{id}/merge-request {into: case_number}``, the new case's token): it records
``merge_request`` on the new case (``case.merge_requested``), and a coordinator confirms it with
``POST /coordinator/cases/{id}/merge {into}`` (or merges on their own judgement).

A merge is one transaction over both cases (each conditional on its version): the merged case is
closed (``case.closed``, reason ``duplicate``, ``merged_into``; its SLA clocks are cancelled and its
open referrals superseded) and the kept case gains ``merged_from`` and a ``case.merged`` event
carrying the merged case's title and description, which is "adding it to the earlier case as a
reply". Only cases of the same company (same ``company_key``) can be merged; repeating a merge
answers ``changed: false``.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, field_validator

from .coordinators.auth import Staff, require
from .errors import CaseNotFound, ConcurrentUpdate, Conflict, FieldError, ValidationFailed, is_conditional_failure
from .events import Actor, CaseEvent, iso, utcnow
from .intake import load_case_for_sme
from .lifecycle import OPEN_STATUSES, EventType, Status, check_transition
from .models import parse_model
from .referrals.fanout import ACTIVE_REFERRAL_STATUSES
from .store import CaseStore, retry_on_concurrent_update

_CASE_NUMBER = re.compile(r"^\d{6}-\d{4,}$")
_CASE_ID = re.compile(r"^[0-9a-f]{32}$")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class MergeRequestInput(_Input):
    into: str

    @field_validator("into")
    @classmethod
    def _number(cls, value: str) -> str:
        if not _CASE_NUMBER.match(value):
            raise ValueError("a case number such as 261126-0007")
        return value


class MergeInput(_Input):
    into: str  # the kept case: its id or its case number

    @field_validator("into")
    @classmethod
    def _ref(cls, value: str) -> str:
        if not (_CASE_NUMBER.match(value) or _CASE_ID.match(value)):
            raise ValueError("a case id or a case number such as 261126-0007")
        return value


def _not_yours() -> ValidationFailed:
    # one answer for an unknown number and another company's case: no oracle
    return ValidationFailed([FieldError("into", "같은 회사의 이전 접수번호가 아닙니다.",
                                        "Not an earlier case number of the same company.", "not_same_company")])


def _find(store: CaseStore, ref: str) -> dict:
    case_id = ref if _CASE_ID.match(ref) else store.find_case_id_by_number(ref)
    return store.get_case(case_id)

def request_merge(store: CaseStore, case_id: str, token: str | None, payload, *,
                  now: datetime | None = None) -> dict:
    """The SME marks its new case as the same problem as an earlier case of its company."""
    load_case_for_sme(store, case_id, token)  # credential first: a stranger learns nothing
    body: MergeRequestInput = parse_model(MergeRequestInput, payload)

    def run() -> dict:
        current = store.get_case(case_id)
        try:
            target = _find(store, body.into)
        except CaseNotFound:
            raise _not_yours() from None
        if target["case_id"] == case_id or not current.get("company_key") or \
                target.get("company_key") != current.get("company_key"):
            raise _not_yours()
        request = current.get("merge_request") or {}
        if request.get("into") == body.into:
            return {"case_id": case_id, "merge_request": request, "changed": False}
        if current["status"] not in OPEN_STATUSES:
            raise Conflict("Only an open case can be added to an earlier one",
                           "진행 중인 사례만 이전 사례에 합칠 수 있습니다")
        at = iso(now or utcnow())
        request = {"into": body.into, "requested_at": at}
        event = CaseEvent(case_id=case_id, type=EventType.MERGE_REQUESTED, at=at, actor=Actor(kind="sme", id="public"),
                          data={"into": body.into})
        store.update_case(current, {"merge_request": request, "updated_at": at}, events=[event])
        return {"case_id": case_id, "merge_request": request, "changed": True}

    return retry_on_concurrent_update(run)


def merge(store: CaseStore, staff: Staff, case_id: str, payload, *, now: datetime | None = None) -> dict:
    """Fold case ``case_id`` into ``into`` (coordinator+). See the module docstring."""
    require(staff, "coordinator")
    body: MergeInput = parse_model(MergeInput, payload)

    def run() -> dict:
        source = store.get_case(case_id)
        try:
            target = _find(store, body.into)
        except CaseNotFound:
            raise ValidationFailed([FieldError("into", "해당 사례가 없습니다.", "No such case.", "not_found")]) from None
        if target["case_id"] == source["case_id"]:
            raise ValidationFailed([FieldError("into", "자기 자신과 합칠 수 없습니다.", "A case cannot be merged into itself.",
                                               "same_case")])
        if source.get("merged_into") == target["case_number"]:
            return {"case_id": case_id, "merged_into": target["case_number"], "status": source["status"],
                    "changed": False}
        if not source.get("company_key") or source.get("company_key") != target.get("company_key"):
            raise Conflict("Only cases of the same company can be merged", "같은 회사의 사례만 합칠 수 있습니다")
        if source.get("merged_into"):
            raise Conflict("This case was already merged into another case", "이미 다른 사례에 합쳐졌습니다")
        if target["status"] in (Status.CLOSED, Status.WITHDRAWN) or target.get("merged_into"):
            raise Conflict("The kept case is closed; merge into an open case",
                           "유지할 사례가 종료되었습니다. 진행 중인 사례에 합치세요")
        check_transition(source["status"], Status.CLOSED)
        moment = now or utcnow()
        at, later = iso(moment), iso(moment + timedelta(milliseconds=1))
        closed = CaseEvent(case_id=case_id, type=EventType.CLOSED, at=at, actor=staff.actor,
                           data={"reason": "duplicate", "merged_into": target["case_number"]})
        merged = CaseEvent(case_id=target["case_id"], type=EventType.MERGED, at=later, actor=staff.actor,
                           data={"from_case_number": source["case_number"], "title": source.get("title"),
                                 "description": source.get("description"), "channel": source.get("channel")})
        target_action, _ = store.case_update_action(target, {
            "merged_from": [*(target.get("merged_from") or []), source["case_number"]], "updated_at": later})
        actions = [target_action, store.event_put_action(merged)]
        actions += [store.referral_status_action(r, "superseded", at) for r in store.referrals(case_id)
                    if r.get("status") in ACTIVE_REFERRAL_STATUSES]
        try:
            new = store.update_case(source, {"status": Status.CLOSED.value, "closed_reason": "duplicate",
                                             "merged_into": target["case_number"], "merge_request": None,
                                             "open_request": None, "resume_status": None, "updated_at": at},
                                    events=[closed], extra_actions=actions)
        except Exception as exc:  # the kept case moved under us: same as a lost version race
            if is_conditional_failure(exc):
                raise ConcurrentUpdate() from None
            raise
        return {"case_id": case_id, "merged_into": target["case_number"], "into_case_id": target["case_id"],
                "status": new["status"], "changed": True}

    return retry_on_concurrent_update(run)
