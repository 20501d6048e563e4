"""The SME withdraws its own case (``POST /cases/{id}/withdraw`` with the tracking token).

Rules:
- allowed from every open status (received, triaged, referred, accepted, in_progress,
  info_requested); a resolved, closed or handed-off case answers 409;
- idempotent: withdrawing a withdrawn case answers 200 with ``changed: false`` and writes nothing;
- one ``update_case`` transaction moves the case to ``withdrawn``, appends ``case.withdrawn`` and
  moves every active referral item (referred / accepted) to ``withdrawn``. The institute sees it
  on its referral (``GET /institute/referrals?status=withdrawn``, the detail's referral status,
  contact details withheld from then on); the event goes through the outbox to the notification
  queue, which confirms the withdrawal to the SME;
- SLA clocks stop: ``case.withdrawn`` cancels both clocks (sos1379.sla.clocks) and the case leaves
  the open StatusDue partitions the SLA pass reads, so it is never flagged again.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from .errors import ConcurrentUpdate, InvalidTransition
from .events import Actor, CaseEvent, iso, utcnow
from .intake import load_case_for_sme
from .lifecycle import OPEN_STATUSES, EventType, Status, check_transition
from .models import Text, parse_model
from .referrals.fanout import ACTIVE_REFERRAL_STATUSES
from .store import CaseStore


class WithdrawInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    reason: Text(0, 1000, multiline=True) | None = None


def withdraw(store: CaseStore, case_id: str, token: str | None, payload=None, *,
             now: datetime | None = None, attempts: int = 3) -> dict:
    """Withdraw the case whose tracking (or link) token is ``token``. See the module docstring."""
    body: WithdrawInput = parse_model(WithdrawInput, payload if payload is not None else {})
    for attempt in range(attempts):
        case = load_case_for_sme(store, case_id, token)
        if case["status"] == Status.WITHDRAWN:
            return {"case_id": case_id, "status": case["status"], "withdrawn_at": case.get("withdrawn_at"),
                    "changed": False}
        if case["status"] not in OPEN_STATUSES:
            raise InvalidTransition(case["status"], Status.WITHDRAWN)
        check_transition(case["status"], Status.WITHDRAWN)
        at = iso(now or utcnow())
        active = [r for r in store.referrals(case_id) if r.get("status") in ACTIVE_REFERRAL_STATUSES]
        actions = [store.referral_status_action(r, "withdrawn", at, {"withdrawn_at": at}) for r in active]
        data = {"institutes": [r["institute"] for r in active], "previous_status": case["status"]}
        if body.reason:
            data["reason_public"] = body.reason
        event = CaseEvent(case_id=case_id, type=EventType.WITHDRAWN, at=at, actor=Actor(kind="sme", id="public"),
                          data=data)
        try:
            new = store.update_case(case, {"status": Status.WITHDRAWN.value, "withdrawn_at": at,
                                           "open_request": None, "resume_status": None, "updated_at": at},
                                    events=[event], extra_actions=actions)
        except ConcurrentUpdate:
            if attempt + 1 == attempts:
                raise
            continue
        return {"case_id": case_id, "status": new["status"], "withdrawn_at": at, "changed": True}
    raise ConcurrentUpdate()  # pragma: no cover
