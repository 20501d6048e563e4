"""DynamoDB Streams -> SQS: publishes case events (the outbox rows of CasesTable) to the queues.

Each history event is written in the same transaction as the case change, so an event exists iff
the change happened; this relay turns it into queue messages. Stream delivery is at least once,
so consumers deduplicate on ``event_id``."""
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response

from sos1379.batch import LoggedBatchProcessor
from sos1379.outbox import relay_record

logger = Logger()
processor = LoggedBatchProcessor(EventType.DynamoDBStreams, logger)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=relay_record, processor=processor,
                                    context=context)
