"""The case lifecycle as an explicit state machine, and the event types the history records."""
from __future__ import annotations

from enum import StrEnum

from .errors import InvalidTransition


class Status(StrEnum):
    RECEIVED = "received"              # accepted by intake, routing pending
    TRIAGED = "triaged"                # with a coordinator (low-confidence routing, declined by all)
    REFERRED = "referred"              # sent to one or more institutes, waiting for acceptance
    ACCEPTED = "accepted"              # an institute took it
    IN_PROGRESS = "in_progress"        # the institute is working with the SME
    INFO_REQUESTED = "info_requested"  # waiting on the SME (the SLA clock pauses)
    RESOLVED = "resolved"              # guidance or a solution was given
    CLOSED = "closed"
    HANDED_OFF = "handed_off"          # not a technology matter: passed to a partner
    WITHDRAWN = "withdrawn"            # the SME withdrew it


OPEN_STATUSES = frozenset({Status.RECEIVED, Status.TRIAGED, Status.REFERRED, Status.ACCEPTED,
                           Status.IN_PROGRESS, Status.INFO_REQUESTED})
TERMINAL_STATUSES = frozenset({Status.CLOSED, Status.WITHDRAWN})

# Statuses of the items beside a case: one referral per institute, one hand-off per partner.
REFERRAL_STATUSES = ("referred", "accepted", "declined", "resolved", "superseded", "withdrawn")
HANDOFF_STATUSES = ("pending", "accepted", "returned", "lapsed", "superseded")

S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.TRIAGED, S.REFERRED, S.HANDED_OFF, S.INFO_REQUESTED, S.RESOLVED, S.WITHDRAWN,
                           S.CLOSED}),
    S.TRIAGED: frozenset({S.REFERRED, S.HANDED_OFF, S.INFO_REQUESTED, S.RESOLVED, S.WITHDRAWN, S.CLOSED}),
    # referred -> referred: a decline re-routes to the next institute
    S.REFERRED: frozenset({S.REFERRED, S.ACCEPTED, S.TRIAGED, S.INFO_REQUESTED, S.RESOLVED, S.HANDED_OFF,
                           S.WITHDRAWN, S.CLOSED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.INFO_REQUESTED, S.RESOLVED, S.REFERRED, S.TRIAGED, S.WITHDRAWN,
                           S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.INFO_REQUESTED, S.RESOLVED, S.REFERRED, S.TRIAGED, S.WITHDRAWN, S.CLOSED}),
    # leaving info_requested returns to where the case was (stored as resume_status)
    S.INFO_REQUESTED: frozenset({S.RECEIVED, S.TRIAGED, S.REFERRED, S.ACCEPTED, S.IN_PROGRESS, S.RESOLVED,
                                 S.WITHDRAWN, S.CLOSED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.HANDED_OFF: frozenset({S.CLOSED, S.TRIAGED}),
    S.CLOSED: frozenset(),
    S.WITHDRAWN: frozenset(),
}


def check_transition(current: str, target: str) -> Status:
    """Return the target status if the move is allowed, else raise InvalidTransition."""
    try:
        cur, tgt = Status(current), Status(target)
    except ValueError:
        raise InvalidTransition(current, target) from None
    if tgt not in TRANSITIONS[cur]:
        raise InvalidTransition(current, target)
    return tgt


STATUS_LABELS: dict[str, tuple[str, str]] = {
    "received": ("접수됨", "Received"),
    "triaged": ("전문위원 검토 중", "With an expert coordinator"),
    "referred": ("전문기관 연결 중", "Referred to an institute"),
    "accepted": ("전문기관 배정 완료", "Accepted by an institute"),
    "in_progress": ("지원 진행 중", "In progress"),
    "info_requested": ("추가 정보 요청", "Information requested"),
    "resolved": ("해결됨", "Resolved"),
    "closed": ("종료", "Closed"),
    "handed_off": ("협력기관 안내", "Handed off to a partner"),
    "withdrawn": ("취소됨", "Withdrawn"),
}


class EventType(StrEnum):
    """Event types of the append-only history. Dotted names are the message contract."""

    SUBMITTED = "case.submitted"
    ROUTED = "case.routed"                    # router decision recorded (with reasons)
    ROUTE_REQUESTED = "case.route_requested"  # re-route (decline, coordinator override)
    REFERRED = "case.referred"
    ACCEPTED = "case.accepted"
    DECLINED = "case.declined"
    TRIAGED = "case.triaged"
    ASSIGNED = "case.assigned"
    INFO_REQUESTED = "case.info_requested"
    INFO_PROVIDED = "case.info_provided"
    GUIDANCE_GIVEN = "case.guidance_given"
    IN_PROGRESS = "case.in_progress"
    RESOLVED = "case.resolved"
    HANDED_OFF = "case.handed_off"
    CLOSED = "case.closed"
    WITHDRAWN = "case.withdrawn"
    NOTE_ADDED = "case.note_added"            # internal: never shown on the public view
    SLA_AT_RISK = "sla.at_risk"
    SLA_BREACHED = "sla.breached"
    NOTIFICATION = "notification.attempt"
    RATED = "case.rated"
    LINK_REQUESTED = "case.link_requested"    # lost-link recovery: send a fresh tracking link
    MERGE_REQUESTED = "case.merge_requested"  # the SME said "same problem as case N" (a coordinator decides)
    MERGED = "case.merged"                    # on the kept case: another case of the company was folded in
    PARTNER_ACCEPTED = "case.partner_accepted"  # the hand-off partner confirmed pickup
    FOLLOW_UP = "case.follow_up"                # a 30/90-business-day check-in after resolution
    FOLLOW_UP_ANSWERED = "case.follow_up_answered"  # the SME's outcome (solved, licensed, funded, next step)
    CONTACT_VERIFIED = "contact.verified"       # a contact channel confirmed (code, or a counselor): release held notices
    CODE_REQUESTED = "contact.code_requested"   # the SME asked for a fresh verification code
    # shared research equipment booked from the case (sos1379.equipment)
    EQUIPMENT_REQUESTED = "equipment.requested"   # the SME asked for a slot (pending)
    EQUIPMENT_CONFIRMED = "equipment.confirmed"   # the owning institute confirmed (or the SME took its proposal)
    EQUIPMENT_PROPOSED = "equipment.proposed"     # the institute offered another slot
    EQUIPMENT_DECLINED = "equipment.declined"
    EQUIPMENT_CANCELLED = "equipment.cancelled"   # by the SME, the institute, or the source's conflict


# Events the outbox relay publishes, and to which queue. Everything SME-facing goes to the
# notification queue; what needs a routing decision goes to the intake queue.
NOTIFY_EVENTS = frozenset({EventType.SUBMITTED, EventType.REFERRED, EventType.ACCEPTED,
                           EventType.INFO_REQUESTED, EventType.RESOLVED, EventType.HANDED_OFF,
                           EventType.SLA_BREACHED, EventType.LINK_REQUESTED, EventType.FOLLOW_UP,
                           EventType.EQUIPMENT_CONFIRMED, EventType.EQUIPMENT_PROPOSED, EventType.EQUIPMENT_DECLINED,
                           EventType.EQUIPMENT_CANCELLED, EventType.WITHDRAWN, EventType.PARTNER_ACCEPTED,
                           EventType.CONTACT_VERIFIED, EventType.CODE_REQUESTED})
# Notify-queue events that are instructions to the notifier, not messages (no template).
NOTIFY_CONTROL_EVENTS = frozenset({EventType.CONTACT_VERIFIED})
INTAKE_EVENTS = frozenset({EventType.SUBMITTED, EventType.ROUTE_REQUESTED})
INTERNAL_EVENTS = frozenset({EventType.NOTE_ADDED, EventType.ASSIGNED, EventType.SLA_AT_RISK,
                             EventType.LINK_REQUESTED, EventType.CONTACT_VERIFIED, EventType.CODE_REQUESTED})
