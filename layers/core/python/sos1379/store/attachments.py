"""Attachment items (sos1379.attachments): one per file under its case, listed in upload order
across all cases through the StatusDue index (for the retention sweep). A mixin of ``CaseStore``."""
from __future__ import annotations

from ..errors import is_conditional_failure
from .items import ATTACHMENTS_PARTITION, attachment_key, from_dynamo, to_dynamo


class AttachmentRecords:
    def put_new_attachment(self, attachment: dict) -> None:
        self.table.put_item(Item=to_dynamo({
            **attachment, **attachment_key(attachment["case_id"], attachment["attachment_id"]), "kind": "attachment",
            "GSI1PK": ATTACHMENTS_PARTITION,
            "GSI1SK": f"{attachment['created_at']}#{attachment['case_id']}#{attachment['attachment_id']}"}),
            ConditionExpression="attribute_not_exists(PK)")

    def get_attachment(self, case_id: str, attachment_id: str) -> dict | None:
        out = self.table.get_item(Key=attachment_key(case_id, attachment_id), ConsistentRead=True)
        return from_dynamo(out["Item"]) if "Item" in out else None

    def case_attachments(self, case_id: str) -> list[dict]:
        """The case's attachments in upload order."""
        items = [from_dynamo(i) for i in self._query_partition(case_id, "ATTACHMENT#")]
        return sorted(items, key=lambda i: (i.get("created_at", ""), i["attachment_id"]))

    def move_attachment(self, attachment: dict, expected: tuple[str, ...], changes: dict) -> bool:
        """Set ``changes`` if the attachment's status is still one of ``expected`` (False otherwise)."""
        names = {f"#k{i}": k for i, k in enumerate(changes)}
        values = {f":v{i}": v for i, v in enumerate(to_dynamo(changes).values())}
        values.update({f":e{i}": s for i, s in enumerate(expected)})
        names["#status"] = "status"
        condition = "#status IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")"
        try:
            self.table.update_item(Key=attachment_key(attachment["case_id"], attachment["attachment_id"]),
                                   UpdateExpression="SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(changes))),
                                   ConditionExpression=condition, ExpressionAttributeNames=names,
                                   ExpressionAttributeValues=values)
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def delete_attachment(self, case_id: str, attachment_id: str) -> None:
        self.table.delete_item(Key=attachment_key(case_id, attachment_id))

    def all_attachments(self) -> list[dict]:
        """Every attachment's (case_id, attachment_id, created_at), oldest first."""
        from boto3.dynamodb.conditions import Key

        return [from_dynamo(i) for i in self._pages(IndexName="StatusDue",
                                                    KeyConditionExpression=Key("GSI1PK").eq(ATTACHMENTS_PARTITION))]
