"""Monthly report (1st of the month, 09:00 Asia/Seoul): last month's statistics as CSV, an SVG
chart and JSON in the ReportsBucket. Rerunning overwrites the same keys; ``{"month": "YYYY-MM"}``
input reports a chosen month."""
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sos1379.coordinators.reporting import previous_month, write_monthly_report
from sos1379.events import parse_iso, utcnow
from sos1379.settings import get_settings
from sos1379.store import CaseStore

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    event = event or {}
    now = parse_iso(event["time"]) if event.get("time") else utcnow()
    month = event.get("month") or previous_month(now)
    result = write_monthly_report(CaseStore(get_settings().cases_table), get_settings().coordinators.reports_bucket, month)
    metrics.add_metric(name="MonthlyReportCases", unit=MetricUnit.Count, value=result["total"])
    logger.info("monthly report written", month=result["month"], keys=result["keys"])
    return result
