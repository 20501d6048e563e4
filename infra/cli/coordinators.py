"""Coordinator-side commands against the running local stack (.local/stack.json):

- ``sos1379 token --role coordinator --sub alice``: a development bearer token (local stack only)
- ``sos1379 sla run [--now ISO] [--json]``: one SLA pass in-process with a controllable clock
- ``sos1379 sla status CASE_ID [--now ISO]``: a case's clocks
- ``sos1379 sla bench [--closed N --open N]``: the SLA cost benchmark (in-process moto, no stack)
- ``sos1379 report --month 2026-11 [--json] [--write]``: the monthly statistics as tables
"""
from __future__ import annotations

import json
import sys


def _stack():
    """Point this process at the running stack, or explain why not."""
    from infra.localstack.state import StackNotRunning, apply_stack_env, load_stack_state

    try:
        state = load_stack_state()
    except StackNotRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    apply_stack_env(state)
    from sos1379.aws import reset_clients
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    reset_clients()
    return state


def _store():
    from sos1379.settings import get_settings
    from sos1379.store import CaseStore

    return CaseStore(get_settings().cases_table)


def _now(value: str | None):
    from sos1379.events import parse_iso, utcnow

    if not value:
        return utcnow()
    now = parse_iso(value)
    if now.tzinfo is None:
        from sos1379.korea import SEOUL

        now = now.replace(tzinfo=SEOUL)  # a bare local time is read as Seoul time
    return now


def cmd_token(args) -> int:
    from sos1379.coordinators.auth import mint_dev_token

    state = _stack()
    if state is None:
        return 1
    secret = (state.get("env") or {}).get("COORDINATOR_DEV_JWT_SECRET", "")
    if len(secret) < 32:
        print("error: the running stack has no development token issuer (COORDINATOR_DEV_JWT_SECRET)",
              file=sys.stderr)
        return 1
    print(mint_dev_token(secret, args.sub, args.role, ttl_seconds=int(args.ttl_hours * 3600)))
    return 0


class _Recording:
    def __init__(self, inner) -> None:
        self.inner, self.sent = inner, []

    def send(self, alert: dict) -> None:
        self.inner.send(alert)
        self.sent.append(alert)


def cmd_sla_run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from sos1379.settings import get_settings
    from sos1379.sla.flagger import MemoryAlertSink, SnsAlertSink, flag_due_cases

    if _stack() is None:
        return 1
    topic = get_settings().sla.alerts_topic_arn
    alerts = _Recording(SnsAlertSink(topic) if topic else MemoryAlertSink())
    run = flag_due_cases(_store(), _now(args.now), alerts)
    if args.json:
        print(json.dumps({**run.as_dict(), "alerts": alerts.sent}, ensure_ascii=False, indent=2))
        return 0
    console = Console()
    summary = Table(title=f"SLA pass at {run.now} (window until {run.window_until})")
    for column in ("examined", "at_risk", "breached", "alerts", "reindexed", "skipped_conflicts"):
        summary.add_column(column, justify="right")
    summary.add_row(*(str(getattr(run, c)) for c in ("examined", "at_risk", "breached", "alerts", "reindexed",
                                                     "skipped_conflicts")))
    console.print(summary)
    if alerts.sent:
        table = Table(title="Alerts sent" + (" (CoordinatorAlertsTopic)" if topic else " (no topic: not delivered)"))
        for column in ("kind", "case_number", "clock", "due_at", "audience", "recipient"):
            table.add_column(column)
        for alert in alerts.sent:
            table.add_row(*(str(alert.get(c, "")) for c in ("kind", "case_number", "clock", "due_at", "audience",
                                                            "recipient")))
        console.print(table)
    return 0


def cmd_sla_status(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from sos1379.errors import CaseNotFound
    from sos1379.sla import sla_status

    if _stack() is None:
        return 1
    store = _store()
    case_id = args.case
    try:
        if "-" in case_id and len(case_id) < 20:
            case_id = store.find_case_id_by_number(case_id)
        case = store.get_case(case_id)
    except CaseNotFound:
        print("error: no such case", file=sys.stderr)
        return 1
    status = sla_status(case, store.history(case_id), _now(args.now))
    table = Table(title=f"SLA clocks of {case['case_number']} ({case['status']})")
    for column in ("clock", "state", "due_at", "remaining (business days)", "paused", "on_time"):
        table.add_column(column)
    for clock in status.clocks:
        table.add_row(clock.name, clock.state.value, clock.due_at.isoformat(), f"{clock.remaining_business_days:.2f}",
                      f"{clock.paused_business_days:.2f}", str(clock.on_time))
    Console().print(table)
    return 0


def cmd_sla_bench(args) -> int:
    from infra.bench.sla import run

    print(json.dumps(run(closed=args.closed, open_=args.open), indent=2, ensure_ascii=False))
    return 0


def print_report(stats: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]SOS 1379 monthly report {stats['month']}[/bold]: {stats['total']} cases "
                  f"(generated {stats['generated_at']})")
    for key, title in (("by_channel", "Channel"), ("by_service_type", "Service type"), ("by_institute", "Institute"),
                       ("by_region", "Region"), ("by_status", "Status")):
        table = Table(title=f"Cases by {title.lower()}")
        table.add_column(title)
        table.add_column("cases", justify="right")
        for name, count in stats[key].items():
            table.add_row(str(name), str(count))
        console.print(table)
    sla = Table(title="SLA compliance")
    columns = ("on_time", "late", "breached_open", "running", "paused", "cancelled", "compliance")
    sla.add_column("clock")
    for column in columns:
        sla.add_column(column, justify="right")
    for clock, figures in stats["sla"].items():
        sla.add_row(clock, *("-" if figures[c] is None else (f"{figures[c]:.1%}" if c == "compliance" else
                                                              str(figures[c])) for c in columns))
    console.print(sla)
    fg, sat = stats["first_guidance_business_days"], stats["satisfaction"]
    other = Table(title="Guidance and satisfaction")
    other.add_column("figure")
    other.add_column("value", justify="right")
    other.add_row("median business days to first guidance", "-" if fg["median"] is None else f"{fg['median']:.2f}")
    other.add_row("cases with first guidance", str(fg["count"]))
    other.add_row("ratings", str(sat["count"]))
    other.add_row("mean satisfaction (1-5)", "-" if sat["mean"] is None else f"{sat['mean']:.2f}")
    other.add_row("distribution 1..5", " ".join(f"{k}:{v}" for k, v in sat["distribution"].items()))
    console.print(other)


def cmd_report(args) -> int:
    from sos1379.coordinators.reporting import compute_stats, write_monthly_report
    from sos1379.settings import get_settings

    if _stack() is None:
        return 1
    stats = compute_stats(_store(), args.month)
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        print_report(stats)
    if args.write:
        bucket = get_settings().coordinators.reports_bucket
        if not bucket:
            print("error: no ReportsBucket in the running stack", file=sys.stderr)
            return 1
        result = write_monthly_report(_store(), bucket, stats["month"])
        print(f"written: s3://{bucket}/" + f", s3://{bucket}/".join(result["keys"]))
    return 0


def register(subparsers) -> None:
    token = subparsers.add_parser("token", help="print a development staff token for the local stack")
    token.add_argument("--role", choices=["counselor", "coordinator", "lead"], required=True)
    token.add_argument("--sub", required=True, help="staff id (e.g. alice)")
    token.add_argument("--ttl-hours", type=float, default=8.0)
    token.set_defaults(func=cmd_token)

    sla = subparsers.add_parser("sla", help="SLA clocks: run the pass, show a case, benchmark")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True)
    run = sla_sub.add_parser("run", help="run the SLA pass once against the running stack")
    run.add_argument("--now", help="ISO time to run at (bare times are Asia/Seoul), default: now")
    run.add_argument("--json", action="store_true")
    run.set_defaults(func=cmd_sla_run)
    status = sla_sub.add_parser("status", help="a case's SLA clocks")
    status.add_argument("case", help="case id or case number (YYMMDD-NNNN)")
    status.add_argument("--now", help="ISO time (bare times are Asia/Seoul)")
    status.set_defaults(func=cmd_sla_status)
    bench = sla_sub.add_parser("bench", help="items read by one SLA pass vs a scan (in-process moto)")
    bench.add_argument("--closed", type=int, default=100_000)
    bench.add_argument("--open", type=int, default=1_000)
    bench.set_defaults(func=cmd_sla_bench)

    report = subparsers.add_parser("report", help="monthly statistics of the running stack")
    report.add_argument("--month", help="YYYY-MM (Asia/Seoul), default: this month")
    report.add_argument("--json", action="store_true")
    report.add_argument("--write", action="store_true", help="also write CSV/SVG/JSON to the ReportsBucket")
    report.set_defaults(func=cmd_report)
