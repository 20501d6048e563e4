"""Test function for schedules: stores the event it was given."""
import json
import os

import boto3


def lambda_handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["RESULTS_TABLE"])
    table.put_item(Item={"pk": "tick", "sk": context.aws_request_id, "event": json.dumps(event, sort_keys=True)})
    return {"ok": True}
