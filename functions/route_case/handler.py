"""Intake queue -> router -> referral fan-out (sos1379.referrals.fanout.route_case_event).

Partial batch failures: a record that raises is reported in ``batchItemFailures`` and retried by
SQS (then lands in IntakeDLQ after maxReceiveCount); the others are deleted. The service function
is idempotent on the intake event id, so a retried or redelivered record never refers twice."""
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response

from sos1379.batch import LoggedBatchProcessor
from sos1379.messages import CaseMessage
from sos1379.referrals.fanout import ReferralSender, route_case_event
from sos1379.settings import get_settings
from sos1379.store import CaseStore

logger = Logger()
metrics = Metrics()
processor = LoggedBatchProcessor(EventType.SQS, logger)

_OUTCOME_METRICS = {"refer": "CaseReferred", "handoff": "CaseHandedOff", "coordinator": "CaseTriaged",
                    "skipped": "RoutingSkipped"}


@lru_cache(maxsize=1)
def _dependencies() -> tuple[CaseStore, ReferralSender]:
    """Built once per execution environment from the settings and AWS clients."""
    return CaseStore(get_settings().cases_table), ReferralSender()


def record_handler(record) -> None:
    message = CaseMessage.from_body(record.body)  # MalformedMessage: this record fails alone
    store, sender = _dependencies()
    outcome = route_case_event(store, message, sender=sender)
    metrics.add_metric(name="RoutingReplay" if outcome.replay else _OUTCOME_METRICS[outcome.decision],
                       unit=MetricUnit.Count, value=1)
    if outcome.sent:
        metrics.add_metric(name="ReferralMessagesSent", unit=MetricUnit.Count, value=outcome.sent)
    logger.info("intake event handled", case_id=outcome.case_id, event_id=outcome.event_id,
                decision=outcome.decision, targets=outcome.targets, replay=outcome.replay, sent=outcome.sent)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
