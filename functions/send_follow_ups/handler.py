"""Daily follow-up pass (10:00 Asia/Seoul): sends the 30- and 90-business-day check-ins that are
due, each exactly once (sos1379.followups). The scheduled event's ``time`` is the pass's ``now``
(a retried invocation recomputes the same instant); ``{"now": ISO}`` overrides it for drills."""
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sos1379.messages import ScheduledRun
from sos1379.followups import send_due
from sos1379.settings import get_settings
from sos1379.store import CaseStore

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def _dependencies() -> CaseStore:
    """Built once per execution environment from the settings."""
    return CaseStore(get_settings().cases_table)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    request = ScheduledRun.from_event(event)
    run = send_due(_dependencies(), request.instant)
    metrics.add_metric(name="FollowUpsSent", unit=MetricUnit.Count, value=len(run.sent))
    metrics.add_metric(name="FollowUpsSkipped", unit=MetricUnit.Count, value=run.skipped)
    logger.info("follow-ups sent", now=run.now, examined=run.examined, sent=len(run.sent), skipped=run.skipped)
    return {"now": run.now, "examined": run.examined, "sent": len(run.sent), "skipped": run.skipped}
