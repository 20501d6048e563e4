"""Test function on a DynamoDB stream: records each record's key and sequence number in delivery
order; a NEW_IMAGE with "fail_times" N fails the first N deliveries of that record (partial batch
failure by sequence number)."""
import os

import boto3


def lambda_handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["RESULTS_TABLE"])
    failures = []
    for record in event["Records"]:
        image = record["dynamodb"].get("NewImage") or {}
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        seq = record["dynamodb"]["SequenceNumber"]
        fail_times = int(image.get("fail_times", {}).get("N", "0"))
        attempt = table.update_item(
            Key={"pk": f"attempts#{key}", "sk": seq}, UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")["Attributes"]["n"]
        if failures or attempt <= fail_times:
            failures.append({"itemIdentifier": seq})
            continue
        table.put_item(Item={"pk": "delivered", "sk": f"{int(seq):030d}", "key": key,
                             "event": record["eventName"], "created": str(record["dynamodb"]["ApproximateCreationDateTime"])})
    return {"batchItemFailures": failures}
