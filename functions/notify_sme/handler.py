"""NotifyQueue -> SMS and email to the SME (sos1379.notify). Partial batch failures: a record
that failed transiently is retried alone; one that keeps failing ends in NotifyDLQ."""
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response

from sos1379.batch import LoggedBatchProcessor
from sos1379.messages import CaseMessage
from sos1379.notify.runtime import get_notifier, handle_message, idempotency_config

logger = Logger()
metrics = Metrics()
processor = LoggedBatchProcessor(EventType.SQS, logger)


def _dependencies():
    """The Notifier, built once per execution environment from the settings (``notify`` group) and
    AWS clients, with Powertools idempotency (sos1379.notify.runtime)."""
    return get_notifier()


def record_handler(record):
    message = CaseMessage.from_body(record.body)  # MalformedMessage: this record fails alone
    result = handle_message(message, record.raw_event, _dependencies())
    # ids and statuses only: recipients never reach the logs
    logger.info("notification handled", extra=result)
    for channel in result["channels"]:
        metrics.add_metric(name=f"Notification_{channel['status']}", unit=MetricUnit.Count, value=1)
        if channel["channel"] == "sms" and channel["status"] == "sent":
            metrics.add_metric(name="SmsSent", unit=MetricUnit.Count, value=1)  # template's SmsSpendAlarm
    if result["action"] == "deferred":
        metrics.add_metric(name="NotificationDeferred", unit=MetricUnit.Count, value=1)
    return result


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    idempotency_config().register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
