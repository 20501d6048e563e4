"""EventBridge schedule expressions (infra.localstack.schedule)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from infra.localstack.schedule import Schedule, ScheduleExpressionError

UTC = timezone.utc


def at(*args):
    return datetime(*args, tzinfo=UTC)


def test_rate_fires_every_period_from_creation_when_time_passes():
    schedule = Schedule.parse("rate(5 minutes)")
    created = at(2026, 1, 1, 0, 0, 30)
    assert schedule.next_fire(created, created=created) == at(2026, 1, 1, 0, 5, 30)
    assert schedule.next_fire(at(2026, 1, 1, 0, 5, 30), created=created) == at(2026, 1, 1, 0, 10, 30)
    assert Schedule.parse("rate(1 day)").period == timedelta(days=1)


def test_cron_every_weekday_morning_in_seoul_when_timezone_given():
    schedule = Schedule.parse("cron(0 9 ? * MON-FRI *)", "Asia/Seoul")
    # Friday 2026-01-02 10:00 KST -> next is Monday 2026-01-05 09:00 KST = 00:00 UTC
    friday_after_nine = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
    assert schedule.next_fire(friday_after_nine) == at(2026, 1, 5, 0, 0)


def test_cron_steps_lists_and_last_day_when_parsed():
    assert Schedule.parse("cron(0/15 * * * ? *)").next_fire(at(2026, 3, 1, 10, 16)) == at(2026, 3, 1, 10, 30)
    assert Schedule.parse("cron(0 12 L * ? *)").next_fire(at(2026, 2, 1)) == at(2026, 2, 28, 12, 0)
    assert Schedule.parse("cron(0 0 1,15 * ? *)").next_fire(at(2026, 3, 2)) == at(2026, 3, 15)


def test_cron_nth_and_last_weekday_of_month_when_hash_or_l_used():
    # second Tuesday of March 2026 is the 10th; last Friday is the 27th
    assert Schedule.parse("cron(0 0 ? * 3#2 *)").next_fire(at(2026, 3, 1)) == at(2026, 3, 10)
    assert Schedule.parse("cron(0 0 ? * 6L *)").next_fire(at(2026, 3, 1)) == at(2026, 3, 27)


def test_cron_nearest_weekday_when_w_used():
    # 2026-02-15 is a Sunday -> nearest weekday Monday the 16th
    assert Schedule.parse("cron(0 0 15W * ? *)").next_fire(at(2026, 2, 1)) == at(2026, 2, 16)


def test_at_fires_once_when_time_not_passed():
    schedule = Schedule.parse("at(2026-05-01T09:00:00)", "Asia/Seoul")
    assert schedule.next_fire(at(2026, 1, 1)) == at(2026, 5, 1, 0, 0)
    assert schedule.next_fire(at(2026, 6, 1)) is None


@pytest.mark.parametrize("bad", ["rate(0 minutes)", "rate(5 weeks)", "cron(* * * * * *)", "cron(0 0 * *)",
                                 "cron(61 * * * ? *)", "every day", "cron(0 0 ? * 9 *)"])
def test_invalid_expressions_are_rejected_when_parsed(bad):
    with pytest.raises(ScheduleExpressionError):
        Schedule.parse(bad)
