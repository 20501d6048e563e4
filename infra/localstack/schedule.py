"""EventBridge schedule expressions: ``rate(...)``, ``cron(...)`` and Scheduler's ``at(...)``.

moto stores rules and schedules but never fires them, so the local dispatcher computes fire times
itself. The cron dialect is EventBridge's six fields ``minutes hours day-of-month month
day-of-week year``: day-of-week runs 1-7 = SUN-SAT, one of the two day fields must be ``?``, and
``L`` (last day of month), ``nL`` (last weekday n of the month), ``n#k`` (k-th weekday n) and
``W`` (nearest weekday) are understood.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class ScheduleExpressionError(ValueError):
    """The expression is not a valid EventBridge schedule expression."""


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_MONTHS = {name: i for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def _number(token: str, names: dict[str, int], low: int, high: int) -> int:
    token = token.upper()
    value = names[token] if token in names else int(token) if token.isdigit() else None
    if value is None or not low <= value <= high:
        raise ScheduleExpressionError(f"value {token!r} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """Parse one plain cron field into the set of allowed values (None means any)."""
    names = names or {}
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleExpressionError(f"bad step in {text!r}")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, names, low, high), _number(last, names, low, high)
        else:
            start = _number(part, names, low, high)
            end = high if step > 1 else start
        if end < start:
            raise ScheduleExpressionError(f"range {part!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    dom: str  # raw day-of-month field (special forms are evaluated per month)
    months: frozenset[int] | None
    dow: str
    years: frozenset[int] | None

    @classmethod
    def parse(cls, body: str) -> "Cron":
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron needs 6 fields, got {len(fields)}: {body!r}")
        minutes, hours, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleExpressionError("exactly one of day-of-month and day-of-week must be '?'")
        cron = cls(
            minutes=_field(minutes, 0, 59),
            hours=_field(hours, 0, 23),
            dom=dom.upper(),
            months=_field(month, 1, 12, _MONTHS),
            dow=dow.upper(),
            years=_field(year, 1970, 2199),
        )
        cron.day_matches(date(2024, 1, 1))  # validates the day fields eagerly
        return cron

    def day_matches(self, day: date) -> bool:
        if self.months is not None and day.month not in self.months:
            return False
        if self.years is not None and day.year not in self.years:
            return False
        if self.dom != "?":
            return _dom_matches(self.dom, day)
        return _dow_matches(self.dow, day)

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` (same tzinfo), or None within 10 years."""
        start = (after + timedelta(minutes=1)).replace(second=0, microsecond=0)
        minutes = sorted(self.minutes) if self.minutes is not None else list(range(60))
        hours = sorted(self.hours) if self.hours is not None else list(range(24))
        day = start.date()
        for _ in range(366 * 10):
            if self.day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=after.tzinfo)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(year: int, month: int, target: int) -> int:
    last = calendar.monthrange(year, month)[1]
    target = min(target, last)
    weekday = date(year, month, target).weekday()  # Mon=0 .. Sun=6
    if weekday == 5:  # Saturday -> Friday, unless that leaves the month
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday -> Monday, unless that leaves the month
        return target + 1 if target < last else target - 2
    return target


def _dom_matches(field: str, day: date) -> bool:
    if field == "*":
        return True
    if field == "L":
        return day.day == _last_day(day)
    if field == "LW":
        return day.day == _nearest_weekday(day.year, day.month, _last_day(day))
    if field.endswith("W") and field[:-1].isdigit():
        return day.day == _nearest_weekday(day.year, day.month, int(field[:-1]))
    allowed = _field(field, 1, 31)
    return allowed is None or day.day in allowed


def _eventbridge_dow(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Mon=2 .. Sat=7, Sun=1


def _dow_matches(field: str, day: date) -> bool:
    if field == "*":
        return True
    dow = _eventbridge_dow(day)
    if "#" in field:
        weekday_text, nth_text = field.split("#", 1)
        weekday = _number(weekday_text, _DAYS, 1, 7)
        if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
            raise ScheduleExpressionError(f"bad '#' in day-of-week {field!r}")
        return dow == weekday and (day.day - 1) // 7 + 1 == int(nth_text)
    if field == "L":
        return dow == 7
    if field.endswith("L"):
        weekday = _number(field[:-1], _DAYS, 1, 7)
        return dow == weekday and day.day + 7 > _last_day(day)
    allowed = _field(field, 1, 7, _DAYS)
    return allowed is None or dow in allowed


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule expression with its time zone."""

    expression: str
    kind: str  # "rate", "cron" or "at"
    period: timedelta | None = None
    cron: Cron | None = None
    at: datetime | None = None
    tz: str = "UTC"

    @classmethod
    def parse(cls, expression: str, tz: str = "UTC") -> "Schedule":
        text = expression.strip()
        try:
            zone = ZoneInfo(tz)
        except Exception as exc:  # ZoneInfoNotFoundError is a KeyError subclass; bad names raise ValueError
            raise ScheduleExpressionError(f"unknown time zone {tz!r}") from exc
        if match := _RATE.match(text):
            value, unit = int(match.group(1)), match.group(2).rstrip("s")
            if value < 1:
                raise ScheduleExpressionError("rate value must be at least 1")
            period = {"minute": timedelta(minutes=value), "hour": timedelta(hours=value),
                      "day": timedelta(days=value)}[unit]
            return cls(expression=text, kind="rate", period=period, tz=tz)
        if match := _CRON.match(text):
            return cls(expression=text, kind="cron", cron=Cron.parse(match.group(1)), tz=tz)
        if match := _AT.match(text):
            at = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
            return cls(expression=text, kind="at", at=at, tz=tz)
        raise ScheduleExpressionError(f"not a schedule expression: {expression!r}")

    def next_fire(self, after: datetime, *, created: datetime | None = None) -> datetime | None:
        """The next fire time strictly after ``after`` (an aware datetime), in UTC.

        A rate schedule fires every ``period`` counted from ``created`` (default: ``after``), as
        a rule does from the moment it is created; ``at`` fires once."""
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        if self.kind == "rate":
            assert self.period is not None
            origin = created or after
            elapsed = after - origin
            periods = int(elapsed / self.period) + 1 if elapsed >= timedelta(0) else 1
            return (origin + periods * self.period).astimezone(timezone.utc)
        if self.kind == "cron":
            assert self.cron is not None
            local = after.astimezone(ZoneInfo(self.tz))
            found = self.cron.next_after(local)
            return found.astimezone(timezone.utc) if found else None
        assert self.at is not None
        return self.at.astimezone(timezone.utc) if self.at > after else None
