"""Monthly report (1st of the month, 09:00 Asia/Seoul): last month's statistics as CSV, an SVG
chart and JSON in the ReportsBucket. Rerunning overwrites the same keys; ``{"month": "YYYY-MM"}``
input reports a chosen month."""
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field

from sos1379.coordinators.reporting import previous_month, write_monthly_report
from sos1379.events import utcnow
from sos1379.messages import ScheduledRun
from sos1379.settings import get_settings
from sos1379.store import CaseStore

logger = Logger()
metrics = Metrics()


class ReportRequest(ScheduledRun):
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


@lru_cache(maxsize=1)
def _dependencies() -> tuple[CaseStore, str]:
    """Built once per execution environment from the settings (``coordinators`` group)."""
    settings = get_settings()
    return CaseStore(settings.cases_table), settings.coordinators.reports_bucket


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    request = ReportRequest.from_event(event)
    store, bucket = _dependencies()
    month = request.month or previous_month(request.instant or utcnow())
    result = write_monthly_report(store, bucket, month)
    metrics.add_metric(name="MonthlyReportCases", unit=MetricUnit.Count, value=result["total"])
    logger.info("monthly report written", month=result["month"], keys=result["keys"])
    return result
