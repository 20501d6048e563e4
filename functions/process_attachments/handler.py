"""Attachment events and retention (sos1379.attachments).

- SQS batch from AttachmentEventsQueue: EventBridge events, either S3 "Object Created" under
  ``incoming/`` (check, strip EXIF/GPS, publish to ``files/``) or GuardDuty's "Object Scan Result"
  for ``files/`` (available or blocked). Partial batch failures: a record that raises is retried
  and ends in AttachmentEventsDLQ; every step is conditional on the attachment's status, so a
  redelivered event changes nothing.
- Scheduled (daily, Asia/Seoul): delete the files of cases past retention. The event's ``time``
  is the run's ``now``; ``{"now": ISO}`` overrides it for drills."""
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response

from sos1379 import attachments
from sos1379.batch import LoggedBatchProcessor
from sos1379.settings import get_settings
from sos1379.store import CaseStore

logger = Logger()
metrics = Metrics()
processor = LoggedBatchProcessor(EventType.SQS, logger)


@lru_cache(maxsize=1)
def _dependencies() -> tuple[CaseStore, attachments.Bucket]:
    """Built once per execution environment from the settings and AWS clients."""
    settings = get_settings()
    return CaseStore(settings.cases_table), attachments.Bucket(settings.attachments_bucket)


def record_handler(record) -> None:
    store, bucket = _dependencies()
    outcome = attachments.handle_event(store, bucket, record.json_body)
    metrics.add_metric(name=f"Attachment{outcome.result.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("attachment event handled", case_id=outcome.case_id, attachment_id=outcome.attachment_id,
                result=outcome.result, reason=outcome.reason)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    if isinstance(event, dict) and "Records" in event:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    from sos1379.messages import ScheduledRun  # the daily pass only: attachment events load no pydantic

    request = ScheduledRun.from_event(event)
    store, bucket = _dependencies()
    run = attachments.purge_expired(store, bucket, request.instant)
    metrics.add_metric(name="AttachmentsPurged", unit=MetricUnit.Count, value=run.deleted_files)
    logger.info("attachment retention pass", now=run.now, examined_cases=run.examined_cases,
                purged_cases=run.purged_cases, deleted_files=run.deleted_files)
    return {"now": run.now, "examined_cases": run.examined_cases, "purged_cases": run.purged_cases,
            "deleted_files": run.deleted_files}
