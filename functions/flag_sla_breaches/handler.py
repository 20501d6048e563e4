"""Scheduled SLA pass (every 15 minutes): flags at-risk and breached cases once, alerts the
assigned coordinator (and the team lead on a breach) and emits one metric per outcome.

The scheduled event's ``time`` is the pass's ``now`` (a retried invocation recomputes the same
instant); an explicit ``{"now": ISO}`` input overrides it for drills."""
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sos1379.events import parse_iso
from sos1379.sla.flagger import run_scheduled

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    when = (event or {}).get("now") or (event or {}).get("time")
    run = run_scheduled(parse_iso(when) if when else None)
    metrics.add_metric(name="SlaCasesExamined", unit=MetricUnit.Count, value=run.examined)
    metrics.add_metric(name="SlaAtRisk", unit=MetricUnit.Count, value=run.at_risk)
    metrics.add_metric(name="SlaBreached", unit=MetricUnit.Count, value=run.breached)
    metrics.add_metric(name="SlaAlertsSent", unit=MetricUnit.Count, value=run.alerts)
    metrics.add_metric(name="PartnerHandoffsLapsed", unit=MetricUnit.Count, value=len(run.handoffs_lapsed))
    return {k: v for k, v in run.as_dict().items() if k != "flagged_cases"}
