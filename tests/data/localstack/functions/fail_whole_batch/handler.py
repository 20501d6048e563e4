"""Test function without ReportBatchItemFailures: raises when any record asks to fail, so the
whole batch returns to the queue; also returns a bogus batchItemFailures that must be ignored."""
import json
import os

import boto3


def lambda_handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["RESULTS_TABLE"])
    bodies = [json.loads(r["body"]) for r in event["Records"]]
    for record, body in zip(event["Records"], bodies):
        table.put_item(Item={"pk": f"whole#{body['id']}",
                             "sk": f"{int(record['attributes']['ApproximateReceiveCount']):03d}#{record['messageId']}",
                             "batch_size": len(bodies)})
    if any(b.get("fail") for b in bodies):
        raise RuntimeError("a record asked the whole batch to fail")
    return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
