"""Test function: records every SQS record it sees; fails records whose body has "fail": true,
by reporting them in batchItemFailures."""
import json
import os
import time

import boto3

_table = None


def _results():
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["RESULTS_TABLE"])
    return _table


def lambda_handler(event, context):
    records = event["Records"]
    failures = []
    batch_id = context.aws_request_id
    for record in records:
        body = json.loads(record["body"])
        _results().put_item(Item={
            "pk": f"seen#{body['id']}",
            "sk": f"{int(record['attributes']['ApproximateReceiveCount']):03d}#{record['messageId']}",
            "batch": batch_id,
            "batch_size": len(records),
            "greeting": os.environ.get("GREETING", ""),
        })
        if body.get("sleep"):
            time.sleep(float(body["sleep"]))
        if body.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
