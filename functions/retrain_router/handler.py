"""Retrain the router's case memory (weekly, and on demand with ``sos1379 invoke
RetrainRouterFunction`` or ``aws lambda invoke``): every settled referral in the case table becomes
a labelled example (resolved/accepted positive, declined and superseded negative), the memory is
rebuilt from the masked case text and published as a versioned artefact to the model bucket,
where every RouteCaseFunction picks it up within minutes, without a redeploy
(``sos1379.routing.learning``)."""
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sos1379.aws import client
from sos1379.messages import ScheduledRun
from sos1379.routing.learning import retrain
from sos1379.settings import get_settings
from sos1379.store import CaseStore

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def _dependencies() -> tuple[CaseStore, object, str]:
    """Built once per execution environment from the settings (``routing`` group) and AWS clients."""
    settings = get_settings()
    if not settings.routing.model_bucket:
        raise RuntimeError("ROUTER_MODEL_BUCKET is not configured")
    return CaseStore(settings.cases_table), client("s3"), settings.routing.model_bucket


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    request = ScheduledRun.from_event(event)
    store, s3, bucket = _dependencies()
    result = retrain(store, s3, bucket, now=request.instant)
    metrics.add_metric(name="RouterModelExamples", unit=MetricUnit.Count, value=result["examples"])
    logger.info("router model published", version=result["version"], examples=result["examples"],
                positives=result["positives"], negatives=result["negatives"], ms=result["ms"])
    return result
