"""Monthly statistics: cases by channel, service type, institute and region; SLA compliance;
median business days to first guidance; satisfaction. Served by ``GET /stats``, written monthly to
the ReportsBucket as CSV + SVG chart + JSON, printed by ``sos1379 report``.

Finding a month's cases without a scan: case numbers are ``YYMMDD-NNNN`` (Seoul date) with a day
counter item ``COUNTER#YYMMDD`` and a lookup item ``CASENO#{number}`` -> case id. The month's cases
are the day counters (one BatchGet), then the numbers 1..n of each day (BatchGets of 100), then the
cases themselves; cost follows the month's cases, not the table. SLA figures need each case's
history (one partition query each, in parallel)."""
from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from html import escape

from .. import korea
from ..errors import FieldError, ValidationFailed
from ..events import iso, utcnow
from ..sla import business_days_to_first_guidance, sla_status
from ..sla.clocks import ClockState
from ..followups import outcome_report
from ..store import CaseStore
from .auth import Staff, require

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# Statistics exist from the service's first year to well past any plausible use; outside this
# range date arithmetic would overflow (year 0, year 10000), so it is refused as input.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_month(month: str | None, now: datetime | None = None) -> tuple[int, int]:
    if not month:
        local = (now or utcnow()).astimezone(korea.SEOUL)
        return local.year, local.month
    match = MONTH.match(month)
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise ValidationFailed([FieldError("month", f"month는 YYYY-MM 형식({FIRST_YEAR}-01 ~ {LAST_YEAR}-12)이어야 합니다.",
                                           f"month must be YYYY-MM, from {FIRST_YEAR}-01 to {LAST_YEAR}-12.",
                                           "month")])
    return int(match.group(1)), int(match.group(2))


def previous_month(now: datetime) -> str:
    local = now.astimezone(korea.SEOUL).date().replace(day=1) - timedelta(days=1)
    return f"{local.year:04d}-{local.month:02d}"


def _days(year: int, month: int) -> list[date]:
    day, out = date(year, month, 1), []
    while day.month == month:
        out.append(day)
        day += timedelta(days=1)
    return out


def month_cases(store: CaseStore, year: int, month: int) -> list[dict]:
    """Every case received in the month (Seoul dates), via the day counters (no scan)."""
    return store.cases_received_on([d.strftime("%y%m%d") for d in _days(year, month)])


def _institutes(case: dict) -> list[str]:
    if case.get("referred_to"):
        return list(case["referred_to"])
    if case.get("handed_off_to"):
        return [case["handed_off_to"].get("code", "?")]
    return ["(none)"]


def _clock_summary(clocks: list) -> dict:
    counts = Counter()
    for clock in clocks:
        if clock.state == ClockState.MET:
            counts["on_time" if clock.on_time else "late"] += 1
        else:
            counts[clock.state.value] += 1
    decided = counts["on_time"] + counts["late"] + counts["breached"]
    return {"on_time": counts["on_time"], "late": counts["late"], "breached_open": counts["breached"],
            "running": counts["running"] + counts["at_risk"], "paused": counts["paused"],
            "cancelled": counts["cancelled"],
            "compliance": round(counts["on_time"] / decided, 4) if decided else None}


def compute_stats(store: CaseStore, month: str | None = None, now: datetime | None = None,
                  *, workers: int = 8) -> dict:
    now = now or utcnow()
    year, mon = parse_month(month, now)
    cases = month_cases(store, year, mon)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        histories = list(pool.map(lambda c: store.history(c["case_id"]), cases))
    statuses = [sla_status(c, h, now) for c, h in zip(cases, histories)]
    days = [d for d in (business_days_to_first_guidance(c, h, now) for c, h in zip(cases, histories))
            if d is not None]
    ratings = [int(c["rating"]["score"]) for c in cases if c.get("rating")]
    return {
        "month": f"{year:04d}-{mon:02d}", "generated_at": iso(now), "total": len(cases),
        "by_channel": dict(Counter(c.get("channel", "?") for c in cases).most_common()),
        "by_service_type": dict(Counter(c.get("service_type", "?") for c in cases).most_common()),
        "by_institute": dict(Counter(code for c in cases for code in _institutes(c)).most_common()),
        "by_region": dict(Counter((c.get("company") or {}).get("region", "?") for c in cases).most_common()),
        "by_status": dict(Counter(c.get("status", "?") for c in cases).most_common()),
        "sla": {"first_guidance": _clock_summary([s.first_guidance for s in statuses]),
                "resolution": _clock_summary([s.resolution for s in statuses])},
        "first_guidance_business_days": {"count": len(days),
                                         "median": round(statistics.median(days), 3) if days else None},
        "satisfaction": {"count": len(ratings), "mean": round(statistics.fmean(ratings), 2) if ratings else None,
                         "distribution": {str(s): ratings.count(s) for s in range(1, 6)}},
        # outcomes the SMEs reported at the 30/90-business-day check-ins, per resolving institute
        "follow_up": outcome_report(cases),
    }


def stats_for_staff(store: CaseStore, staff: Staff, month: str | None, now: datetime | None = None) -> dict:
    """``GET /stats``: the month's counters (one GetItem, sos1379.coordinators.counters), not a
    recomputation over every case (that is :func:`compute_stats`, for the monthly report)."""
    from .counters import month_stats

    require(staff, "coordinator")
    year, mon = parse_month(month, now)
    return month_stats(store, f"{year:04d}-{mon:02d}", now)


# --- outputs ---------------------------------------------------------------------------------------

_DIMENSIONS = ("by_channel", "by_service_type", "by_institute", "by_region", "by_status")


def to_csv(stats: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "section", "key", "value"])
    writer.writerow([stats["month"], "total", "cases", stats["total"]])
    for dimension in _DIMENSIONS:
        for key, value in stats[dimension].items():
            writer.writerow([stats["month"], dimension, key, value])
    for clock, figures in stats["sla"].items():
        for key, value in figures.items():
            writer.writerow([stats["month"], f"sla_{clock}", key, "" if value is None else value])
    fg = stats["first_guidance_business_days"]
    writer.writerow([stats["month"], "first_guidance_business_days", "median", "" if fg["median"] is None else fg["median"]])
    sat = stats["satisfaction"]
    writer.writerow([stats["month"], "satisfaction", "count", sat["count"]])
    writer.writerow([stats["month"], "satisfaction", "mean", "" if sat["mean"] is None else sat["mean"]])
    for score, count in sat["distribution"].items():
        writer.writerow([stats["month"], "satisfaction", f"score_{score}", count])
    return out.getvalue()


def to_svg(stats: dict) -> str:
    """A dependency-free bar chart: one panel per dimension plus the SLA compliance line."""
    panels = [("Channel", stats["by_channel"]), ("Service type", stats["by_service_type"]),
              ("Region", stats["by_region"]), ("Institute", dict(list(stats["by_institute"].items())[:10]))]
    width, bar_h, gap, label_w, chart_w = 640, 16, 4, 150, 420
    y = 60
    parts = []
    for title, values in panels:
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{escape(title)}</text>')
        y += 8
        peak = max(values.values(), default=0) or 1
        for key, value in values.items():
            w = int(chart_w * value / peak)
            parts.append(f'<text x="10" y="{y + bar_h - 4}">{escape(str(key))}</text>'
                         f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#2b6cb0"/>'
                         f'<text x="{label_w + w + 6}" y="{y + bar_h - 4}">{value}</text>')
            y += bar_h + gap
        y += 24
    fg = stats["sla"]["first_guidance"]["compliance"]
    rs = stats["sla"]["resolution"]["compliance"]
    sat = stats["satisfaction"]["mean"]
    title = (f"SOS 1379 {stats['month']}: {stats['total']} cases; first guidance on time "
             f"{'-' if fg is None else f'{fg:.0%}'}; resolution on time {'-' if rs is None else f'{rs:.0%}'}; "
             f"satisfaction {'-' if sat is None else sat}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" font-family="sans-serif" '
            f'font-size="12"><rect width="100%" height="100%" fill="white"/>'
            f'<text x="10" y="28" font-size="14" font-weight="bold">{escape(title)}</text>{"".join(parts)}</svg>')


def write_monthly_report(store: CaseStore, bucket: str, month: str, *, s3=None, now: datetime | None = None) -> dict:
    """Write ``reports/YYYY-MM/{stats.csv,chart.svg,stats.json}`` (overwrites: safe to rerun)."""
    import json

    if s3 is None:
        from ..aws import client

        s3 = client("s3")
    stats = compute_stats(store, month, now)
    prefix = f"reports/{stats['month']}/"
    objects = {"stats.csv": (to_csv(stats), "text/csv; charset=utf-8"),
               "chart.svg": (to_svg(stats), "image/svg+xml"),
               "stats.json": (json.dumps(stats, ensure_ascii=False, indent=2), "application/json")}
    for name, (body, content_type) in objects.items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body.encode("utf-8"), ContentType=content_type,
                      ServerSideEncryption="AES256")
    return {"month": stats["month"], "bucket": bucket, "keys": [prefix + n for n in objects], "total": stats["total"]}
