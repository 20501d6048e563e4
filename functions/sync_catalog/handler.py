"""EventBridge schedule -> one catalog source sync, then the search index republished.

The schedule's input names the source (``{"source": "zeus"}``, optionally ``"mode": "full"``);
``{"source": "zeus", "part": "calendars"}`` syncs ZEUS's reservation calendars instead (fees,
opening hours, bookings: sos1379.equipment.availability).
The run stops 180 s before the Lambda timeout and checkpoints; the next tick resumes it, so a
first full load larger than one invocation simply spans a few ticks."""
import time
from typing import Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from sos1379.catalog.service import sync_source

logger = Logger()
metrics = Metrics()
SAFETY_MARGIN_S = 180  # a page with all its retries (6 attempts, 30 s cap) fits in it


class SyncRequest(BaseModel):
    source: Literal["zeus", "ntis", "patents", "library"]
    mode: Literal["auto", "full", "incremental"] = "auto"
    part: Literal["records", "calendars"] = "records"


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    request = SyncRequest.model_validate(event)
    if request.part == "calendars":
        from sos1379.equipment.service import sync_availability

        result = sync_availability()
        metrics.add_metric(name="EquipmentCalendarsSynced", unit=MetricUnit.Count, value=result["calendars"])
        return result
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S
    result = sync_source(request.source, mode=request.mode, deadline=deadline)
    metrics.add_dimension(name="source", value=request.source)
    for name, value in result.metrics.model_dump().items():
        metrics.add_metric(name=f"Catalog{name.title()}", unit=MetricUnit.Count, value=value)
    if result.status == "failed":
        metrics.add_metric(name="CatalogSyncFailed", unit=MetricUnit.Count, value=1)
    return result.model_dump()
