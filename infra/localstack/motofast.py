"""DynamoDB semantics moto lacks under load: fast transactions and one writer at a time (moto 5.2.5).

moto backs up a table with ``copy.deepcopy`` before *each action* of a transaction, stream records
included, so a transaction's cost grows with everything ever written to the table: a 1,000-case
pipeline run spends minutes copying. This replacement checks every action's condition against the
state before the transaction (what DynamoDB does), raises ``TransactionCanceledException`` with the
same per-action reasons when any fails, and only then applies the actions, so nothing has to be
rolled back. The semantics the code sees are DynamoDB's, not weaker.

moto's DynamoDB backend is not thread safe: two requests at once in moto server can fail with
"dictionary changed size during iteration" or let two ``ADD`` updates of a counter read the same
value. DynamoDB serialises writes to an item; ``serialized_requests`` gives moto server the same
guarantee by running one DynamoDB (and DynamoDB Streams) request at a time. Other services keep
their concurrency (an SQS long poll must not hold the table). ``partition_queries`` and
``linear_sqs`` remove costs that grow with a table's size or a queue's depth. The local stack and
the reliability harness run with all of them (``moto_fixes()``).
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any


def _transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import get_filter_expression

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []
    plan: list[tuple[str, dict, dict]] = []
    for item in transact_items:
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        original_item = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in targets:
                raise MultipleTransactionsException()
            targets.add(marker)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                              op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            plan.append((op_type, op, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
        except Exception as exc:  # noqa: BLE001 - reported per action, as moto does
            errors.append((type(exc).__name__, str(exc), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, key in plan:
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(op["TableName"], op["Item"], expression_attribute_names=names,
                          expression_attribute_values=values)
        elif op_type == "Delete":
            self.delete_item(op["TableName"], key, expression_attribute_names=names,
                             expression_attribute_values=values)
        elif op_type == "Update":
            self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                             expression_attribute_names=names, expression_attribute_values=values)


@contextlib.contextmanager
def fast_transactions() -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = _transact_write_items
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original


@contextlib.contextmanager
def serialized_requests() -> Iterator[None]:
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    lock = threading.RLock()
    originals = {cls: cls.call_action for cls in (DynamoHandler, DynamoDBStreamsHandler)}

    def wrap(original):
        def call_action(self):
            with lock:
                return original(self)
        return call_action

    for cls, original in originals.items():
        cls.call_action = wrap(original)
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.call_action = original


_partition = threading.local()


@contextlib.contextmanager
def partition_queries() -> Iterator[None]:
    """A Query on a table's primary key reads its partition, not the whole table.

    moto's ``Table.query`` lists and sorts every item of the table and then keeps the partition's,
    so each query costs the table's size: under load the local stack spent most of its time there.
    For a query without an index, ``all_items`` is narrowed to the partition asked for; moto's own
    filtering, sorting and paging then run unchanged on the same items DynamoDB would read."""
    from moto.dynamodb.models.table import Table

    original_query, original_all = Table.query, Table.all_items

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _partition.key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _partition.key = None

    def all_items(self):
        key = getattr(_partition, "key", None)
        if key is None or not self.range_key_attr:
            return original_all(self)
        return sorted(self.items.get(key, {}).values(), key=lambda x: (x.hash_key, x.range_key))

    Table.query, Table.all_items = query, all_items
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all


@contextlib.contextmanager
def string_key_comparisons() -> Iterator[None]:
    """Two string ``DynamoType`` values compare by their strings, skipping moto's chain of type
    checks (``cast_value``) per comparison; other types keep moto's comparison. Same answers: a
    benchmark over 100,000 items (``infra.bench.sla``) otherwise measures moto's type checks."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    eq, ne, lt = DynamoType.__eq__, DynamoType.__ne__, DynamoType.__lt__

    def fast_eq(a, b):
        return a.value == b.value if a.type == "S" == getattr(b, "type", None) else eq(a, b)

    def fast_ne(a, b):
        return a.value != b.value if a.type == "S" == getattr(b, "type", None) else ne(a, b)

    def fast_lt(a, b):
        return a.value < b.value if a.type == "S" == getattr(b, "type", None) else lt(a, b)

    DynamoType.__eq__, DynamoType.__ne__, DynamoType.__lt__ = fast_eq, fast_ne, fast_lt
    try:
        yield
    finally:
        DynamoType.__eq__, DynamoType.__ne__, DynamoType.__lt__ = eq, ne, lt


_sqs = threading.local()


@contextlib.contextmanager
def linear_sqs() -> Iterator[None]:
    """SQS costs that follow the message, not the queue's depth.

    moto computes every queue attribute, counts of all messages included, to read one of them:
    once per message a ReceiveMessage looks at (its retention period), so a receive costs the
    square of the queue's depth, and once per SendMessage (ContentBasedDeduplication). The
    retention period is read from the queue itself, and a send to a standard queue (where
    content-based deduplication does not exist) skips the counts. Same rules, same answers."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Queue, SQSBackend

    original_valid, original_send = SQSBackend.is_message_valid_based_on_retention_period, SQSBackend.send_message
    original_attributes = Queue.attributes

    def is_valid(self, queue_name, message):
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    def send_message(self, queue_name, *args, **kwargs):
        _sqs.standard_send = not self.get_queue(queue_name).fifo_queue
        try:
            return original_send(self, queue_name, *args, **kwargs)
        finally:
            _sqs.standard_send = False

    def attributes(self):
        if getattr(_sqs, "standard_send", False):
            return {"ContentBasedDeduplication": "false"}
        return original_attributes.fget(self)

    SQSBackend.is_message_valid_based_on_retention_period, SQSBackend.send_message = is_valid, send_message
    Queue.attributes = property(attributes)
    try:
        yield
    finally:
        SQSBackend.is_message_valid_based_on_retention_period = original_valid
        SQSBackend.send_message = original_send
        Queue.attributes = original_attributes


@contextlib.contextmanager
def moto_fixes() -> Iterator[None]:
    """Every patch, for the local stack's moto server."""
    with fast_transactions(), serialized_requests(), partition_queries(), linear_sqs():
        yield


@contextlib.contextmanager
def stream_wakeups(notify: Callable[[], None]) -> Iterator[None]:
    """Call ``notify`` whenever moto appends a record to a table's stream, so the local stack's
    stream pollers (``dispatcher.Wakeup``) read it at once instead of polling an idle stream."""
    from moto.dynamodb.models.table import StreamShard

    original = StreamShard.add

    def add(self, old, new):
        original(self, old, new)
        notify()

    StreamShard.add = add
    try:
        yield
    finally:
        StreamShard.add = original


@contextlib.contextmanager
def s3_object_writes(notify: Callable[[], None]) -> Iterator[None]:
    """Call ``notify`` after moto stores an S3 object (put, presigned POST, copy, multipart), so the
    malware-scan stand-in reacts to uploads instead of listing an idle bucket on a short timer."""
    from moto.s3.models import S3Backend

    original = S3Backend.put_object

    def put_object(self, *args, **kwargs):
        stored = original(self, *args, **kwargs)
        notify()
        return stored

    S3Backend.put_object = put_object
    try:
        yield
    finally:
        S3Backend.put_object = original
