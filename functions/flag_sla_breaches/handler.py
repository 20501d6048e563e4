"""Scheduled SLA pass (every 15 minutes): flags at-risk and breached cases once, alerts the
assigned coordinator (and the team lead on a breach) and emits one metric per outcome.

The scheduled event's ``time`` is the pass's ``now`` (a retried invocation recomputes the same
instant); an explicit ``{"now": ISO}`` input overrides it for drills."""
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sos1379.messages import ScheduledRun
from sos1379.settings import get_settings
from sos1379.sla.flagger import AlertSink, MemoryAlertSink, SnsAlertSink, run_scheduled
from sos1379.store import CaseStore

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def _dependencies() -> tuple[CaseStore, AlertSink]:
    """Built once per execution environment from the settings (``sla`` group) and AWS clients."""
    settings = get_settings()
    topic = settings.sla.alerts_topic_arn
    return CaseStore(settings.cases_table), (SnsAlertSink(topic) if topic else MemoryAlertSink())


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    request = ScheduledRun.from_event(event)
    store, alerts = _dependencies()
    run = run_scheduled(request.instant, store=store, alerts=alerts)
    metrics.add_metric(name="SlaCasesExamined", unit=MetricUnit.Count, value=run.examined)
    metrics.add_metric(name="SlaAtRisk", unit=MetricUnit.Count, value=run.at_risk)
    metrics.add_metric(name="SlaBreached", unit=MetricUnit.Count, value=run.breached)
    metrics.add_metric(name="SlaAlertsSent", unit=MetricUnit.Count, value=run.alerts)
    metrics.add_metric(name="PartnerHandoffsLapsed", unit=MetricUnit.Count, value=len(run.handoffs_lapsed))
    return {k: v for k, v in run.as_dict().items() if k != "flagged_cases"}
