"""Monthly statistics kept as counters while the events arrive, so ``GET /stats`` and the public
``/statistics`` page read one item per month (a GetItem, or one BatchGetItem for 13 months)
whatever the volume, instead of every case and its history (23 s at 646 cases before).

Where: the outbox relay (``sos1379.outbox.relay_record``) passes every stream record of
CasesTable here after relaying it. The stream is the one place every write passes through (API,
router, institutes, coordinators, the SLA pass), and it is asynchronous, so the hot monthly item is
never part of a case transaction (which would serialise every write of the month).

Items (single table, see sos1379.store):

| item              | PK                     | SK            | fields                                  |
|-------------------|------------------------|---------------|-----------------------------------------|
| month aggregate   | STATS#{YYYY-MM}        | META          | flat counters: ``total``, ``channel:web``, ``fg:on_time``, ``fg_days:12``, ... |
| contribution mark | STATSMARK#{case_id}    | {contribution}| month, at                               |
| counted status    | STATSMARK#{case_id}    | STATUS        | status, version                         |

Exactly once: each contribution of a case (``submitted``, ``institute#KITECH``,
``first_guidance``, ``resolution``, ``rating``, ``breached#first_guidance``, ``cancel#...``) is
one TransactWriteItems: a Put of its mark with ``attribute_not_exists`` plus an ``ADD`` on the
month item. A redelivered record (the stream is at least once) or a duplicate event finds the mark
and adds nothing; a crash between the two cannot happen because they are one transaction. Status
counts move with the case item's images: the mark remembers the status counted and the case
version it came from, and an older or equal version never moves it again.

The month is the case's month of receipt (Seoul date, from ``YYMMDD`` of its case number), the
same month ``reporting.compute_stats`` files it under. First-guidance days go into a histogram of
tenth-of-a-business-day buckets (``fg_days:{n}`` = [n/10, (n+1)/10) days), from which the median is
read; ``reporting.compute_stats`` remains the exact recomputation (the monthly S3 report, the CLI)
and :func:`rebuild_month` turns it into counters for a month that predates them."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..errors import CaseNotFound
from ..events import iso, parse_iso, utcnow
from ..lifecycle import EventType
from ..store import CaseStore, from_dynamo

log = logging.getLogger("sos1379.stats")

FG, RES = "fg", "res"                      # counter prefixes of the two SLA clocks
_CLOCK_PREFIX = {"first_guidance": FG, "resolution": RES}
DAY_BUCKETS_PER_DAY = 10                   # histogram resolution: 0.1 business day
MAX_DAY_BUCKET = 60 * DAY_BUCKETS_PER_DAY  # 60 business days and more share the last bucket

_GUIDANCE = {EventType.GUIDANCE_GIVEN, EventType.RESOLVED, EventType.HANDED_OFF}
_RESOLUTION = {EventType.RESOLVED, EventType.HANDED_OFF}
_CANCEL = {EventType.CLOSED, EventType.WITHDRAWN}
STATS_EVENTS = frozenset({EventType.SUBMITTED, EventType.REFERRED, EventType.HANDED_OFF, EventType.RATED,
                          EventType.SLA_BREACHED, *_GUIDANCE, *_CANCEL})


def month_of_case(case: dict) -> str:
    """``YYYY-MM`` of the case's Seoul receipt date (its case number starts with ``YYMMDD``)."""
    number = case.get("case_number") or ""
    if len(number) >= 6 and number[:6].isdigit():
        return f"20{number[:2]}-{number[2:4]}"
    from .. import korea

    return parse_iso(case["created_at"]).astimezone(korea.SEOUL).strftime("%Y-%m")


def add_once(store: CaseStore, case_id: str, contribution: str, month: str, counts: dict[str, int],
             at: str) -> bool:
    """Add ``counts`` to the month item unless this contribution of the case was already counted.
    Returns True when it counted now."""
    counts = {k: v for k, v in counts.items() if v}
    if not counts:
        return False
    return store.count_once(case_id, contribution, month, counts, at)


def day_bucket(days: float) -> int:
    return max(0, min(MAX_DAY_BUCKET, int(days * DAY_BUCKETS_PER_DAY)))


# --- feeding the counters ----------------------------------------------------------------------------

def record_item(store: CaseStore, item: dict) -> None:
    """Count one stream image of CasesTable (a case item or a history event); others are ignored."""
    kind = item.get("kind")
    if kind == "case":
        record_case_status(store, item)
    elif kind == "event" and item.get("type") in STATS_EVENTS:
        record_event(store, item)


def record_case_status(store: CaseStore, case: dict) -> None:
    """Move the month's ``status:*`` counters from the status last counted for this case to the
    status of this image, unless a newer image was counted already."""
    version, status, month = int(case.get("version", 0)), case.get("status"), month_of_case(case)
    mark = store.status_mark(case["case_id"])
    if mark is not None and (int(mark["version"]) >= version or mark.get("status") == status):
        if mark.get("status") == status and int(mark["version"]) < version:
            store.advance_status_mark(case["case_id"], version)
        return
    counts = {f"status:{status}": 1}
    if mark is not None:
        counts[f"status:{mark['status']}"] = -1
    # False: another relay moved the mark first: it holds a status at least as new, or will retry
    store.move_status_count(case["case_id"], mark, status, version, month, counts)


def record_event(store: CaseStore, event: dict) -> None:
    """Count the contributions of one history event (see the module docstring)."""
    etype, case_id, at = event["type"], event["case_id"], event["at"]
    try:
        case = store.get_case(case_id)
    except CaseNotFound:
        log.warning("stats.case_missing", extra={"case_id": case_id, "event_type": etype})
        return
    month = month_of_case(case)
    data = event.get("data") or {}
    if etype == EventType.SUBMITTED:
        add_once(store, case_id, "submitted", month, {
            "total": 1, f"channel:{case.get('channel', '?')}": 1,
            f"service:{case.get('service_type', '?')}": 1,
            f"region:{(case.get('company') or {}).get('region', '?')}": 1}, at)
    if etype == EventType.REFERRED:
        for inst in data.get("institutes") or []:
            code = inst.get("code") if isinstance(inst, dict) else inst
            if code:
                add_once(store, case_id, f"institute#{code}", month, {f"institute:{code}": 1}, at)
    if etype == EventType.HANDED_OFF:
        code = (data.get("partner") or {}).get("code") if isinstance(data.get("partner"), dict) else data.get("partner")
        if code:
            add_once(store, case_id, f"institute#{code}", month, {f"institute:{code}": 1}, at)
    if etype == EventType.RATED:
        score = int(data.get("rating") or (case.get("rating") or {}).get("score") or 0)
        if 1 <= score <= 5:
            add_once(store, case_id, "rating", month,
                     {"rating:count": 1, "rating:sum": score, f"rating:{score}": 1}, at)
    if etype == EventType.SLA_BREACHED:
        prefix = _CLOCK_PREFIX.get(data.get("clock", "first_guidance"))
        if prefix:
            add_once(store, case_id, f"breached#{prefix}", month, {f"{prefix}:breached": 1}, at)
    if etype in _GUIDANCE or etype in _CANCEL:
        _record_clocks(store, case, month, etype, at)


def _record_clocks(store: CaseStore, case: dict, month: str, etype: str, at: str) -> None:
    from ..sla import ClockState, sla_status

    history = store.history(case["case_id"])
    # the clocks as they stood right after this event (later events do not change its outcome)
    now = parse_iso(at) + timedelta(milliseconds=1)
    status = sla_status(case, history, now)
    breached = {e.get("data", {}).get("clock", "first_guidance") for e in history
                if e["type"] == EventType.SLA_BREACHED}
    for name, prefix, clock, stoppers in (("first_guidance", FG, status.first_guidance, _GUIDANCE),
                                          ("resolution", RES, status.resolution, _RESOLUTION)):
        if etype in stoppers and clock.state == ClockState.MET:
            counts = {f"{prefix}:{'on_time' if clock.on_time else 'late'}": 1}
            if name in breached:
                counts[f"{prefix}:breached_met"] = 1
            if prefix == FG and clock.stopped_at is not None:
                from .. import korea

                days = korea.business_days_between(clock.started_at, clock.stopped_at) - clock.paused_business_days
                counts[f"fg_days:{day_bucket(days)}"] = 1
                counts["fg_days:count"] = 1
            add_once(store, case["case_id"], name, month, counts, at)
        elif etype in _CANCEL and clock.state == ClockState.CANCELLED:
            add_once(store, case["case_id"], f"cancel#{prefix}", month, {f"{prefix}:cancelled": 1}, at)


# --- reading them -------------------------------------------------------------------------------------

def _group(counters: dict, prefix: str) -> dict[str, int]:
    found = {k.split(":", 1)[1]: int(v) for k, v in counters.items()
             if k.startswith(prefix + ":") and int(v) > 0}
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


def median_from_histogram(buckets: dict[int, int]) -> float | None:
    """Median of the values in tenth-of-a-day buckets, each value taken at its bucket's middle."""
    total = sum(buckets.values())
    if total == 0:
        return None
    ordered = sorted(buckets.items())

    def nth(k: int) -> float:  # the k-th smallest value (0-based)
        seen = 0
        for bucket, count in ordered:
            seen += count
            if k < seen:
                return (bucket + 0.5) / DAY_BUCKETS_PER_DAY
        return (ordered[-1][0] + 0.5) / DAY_BUCKETS_PER_DAY  # pragma: no cover

    mid = total // 2
    value = nth(mid) if total % 2 else (nth(mid - 1) + nth(mid)) / 2
    return round(value, 2)


def _clock(counters: dict, prefix: str, total: int, paused: int) -> dict:
    get = lambda name: max(0, int(counters.get(f"{prefix}:{name}", 0)))  # noqa: E731
    on_time, late, cancelled = get("on_time"), get("late"), get("cancelled")
    breached_open = max(0, get("breached") - get("breached_met"))
    paused = min(paused, max(0, total - on_time - late - breached_open - cancelled))
    decided = on_time + late + breached_open
    return {"on_time": on_time, "late": late, "breached_open": breached_open,
            "running": max(0, total - on_time - late - breached_open - cancelled - paused), "paused": paused,
            "cancelled": cancelled, "compliance": round(on_time / decided, 4) if decided else None}


def stats_from_counters(month: str, counters: dict, now: datetime | None = None) -> dict:
    """The ``compute_stats`` shape from one month item (``running``/``paused`` are derived from
    the status counts: exact per case needs the clocks, which the counters do not keep)."""
    counters = from_dynamo(counters or {})
    total = int(counters.get("total", 0))
    paused = int(counters.get("status:info_requested", 0))
    days = {int(k.split(":", 1)[1]): int(v) for k, v in counters.items()
            if k.startswith("fg_days:") and k[8:].isdigit() and int(v) > 0}
    ratings = {str(s): int(counters.get(f"rating:{s}", 0)) for s in range(1, 6)}
    count = int(counters.get("rating:count", 0))
    return {
        "month": month, "generated_at": iso(now or utcnow()), "total": total, "source": "counters",
        "by_channel": _group(counters, "channel"), "by_service_type": _group(counters, "service"),
        "by_institute": _group(counters, "institute"), "by_region": _group(counters, "region"),
        "by_status": _group(counters, "status"),
        "sla": {"first_guidance": _clock(counters, FG, total, paused),
                "resolution": _clock(counters, RES, total, paused)},
        "first_guidance_business_days": {"count": sum(days.values()), "median": median_from_histogram(days),
                                         "histogram": {str(k / DAY_BUCKETS_PER_DAY): v for k, v in sorted(days.items())}},
        "satisfaction": {"count": count,
                         "mean": round(int(counters.get("rating:sum", 0)) / count, 2) if count else None,
                         "distribution": ratings},
    }


def month_stats(store: CaseStore, month: str, now: datetime | None = None) -> dict:
    """One month's statistics: one GetItem."""
    return stats_from_counters(month, store.month_counters(month), now)


def months_back(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first."""
    year, mon = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    return out[::-1]


def series(store: CaseStore, month: str, count: int = 12, now: datetime | None = None) -> list[dict]:
    """Statistics of ``count`` months ending with ``month`` (oldest first): one BatchGetItem."""
    months = months_back(month, count)
    found = store.months_counters(months)
    return [stats_from_counters(m, found.get(m, {}), now) for m in months]


def rebuild_month(store: CaseStore, month: str, now: datetime | None = None) -> dict:
    """Count a month that predates the counters: replay every case's events of that month through
    the same idempotent contributions (a mark already present adds nothing, so a rerun, or a month
    already partly counted, ends with each contribution counted once). Cost follows the month."""
    from .reporting import month_cases, parse_month

    year, mon = parse_month(month, now)
    cases = month_cases(store, year, mon)
    for case in cases:
        record_case_status(store, case)
        for event in store.history(case["case_id"]):
            if event.get("type") in STATS_EVENTS:
                record_event(store, event)
    return {"month": f"{year:04d}-{mon:02d}", "cases": len(cases)}
