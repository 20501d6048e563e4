"""The local event-source-mapping service: gives functions Lambda's delivery semantics on moto.

moto stores event source mappings and schedules but cannot run the code (no Docker), and its own
SQS trigger sends one record per event with a receive count of "1" and ignores
``batchItemFailures``. This module polls the real moto queues and streams instead:

SQS (one poller thread per concurrent batch, at most the function's concurrency):
  long-poll up to ``BatchSize`` messages (gathering for ``MaximumBatchingWindowInSeconds``), invoke
  once per batch, delete the successes; failed messages stay invisible until the queue's
  visibility timeout ends and come back with a higher ``ApproximateReceiveCount``; moto moves a
  message to the DLQ on the receive after ``maxReceiveCount``. A raised error fails the whole
  batch; ``batchItemFailures`` counts only when the mapping has ``ReportBatchItemFailures``.
  Messages that do not match the mapping's ``FilterCriteria`` are deleted unseen, as Lambda does.

DynamoDB Streams (one thread per shard, batches in order):
  an idle shard waits for a :class:`Wakeup` (the local stack rings it from moto's stream write), or
  ``poll_interval`` without one, so a record is read as soon as it is written and an idle stack
  does not poll; read from ``TRIM_HORIZON`` or ``LATEST``; on a failed batch retry from the failed sequence
  number (the lowest ``itemIdentifier`` with ``ReportBatchItemFailures``, else the first record),
  honouring ``MaximumRetryAttempts``, ``MaximumRecordAgeInSeconds``, ``BisectBatchOnFunctionError``
  and an SQS ``OnFailure`` destination; a shard is blocked while its batch keeps failing.

Schedules (one timer thread, invocations on a small pool):
  EventBridge rules and Scheduler schedules fire on their ``rate``/``cron``/``at`` expressions with
  their ``Input`` (or the "Scheduled Event" envelope); failed asynchronous invocations are retried
  twice, one and two minutes later, as Lambda does by default.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from infra.localstack.events import (
    BatchOutcome,
    scheduled_event,
    settle_batch,
    sqs_record,
    stream_checkpoint,
    stream_record,
)
from infra.localstack.runtime import InvocationResult, Invoker
from infra.localstack.schedule import Schedule
from infra.template import ScheduleSource, SqsSource, StreamSource

log = logging.getLogger("localstack.dispatcher")


def _fields(**kwargs: Any) -> dict[str, Any]:
    return {"fields": kwargs}


# --------------------------------------------------------------------------- filtering


class EventFilter:
    """Lambda event filtering (``FilterCriteria``): a record passes if any pattern matches."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._patterns = []
        if patterns:
            from moto.events.models import EventPattern  # EventBridge pattern semantics

            self._patterns = [EventPattern.load(p) for p in patterns]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, record: dict[str, Any]) -> bool:
        if not self._patterns:
            return True
        document = dict(record)
        body = document.get("body")
        if isinstance(body, str):
            try:
                document["body"] = json.loads(body)
            except ValueError:
                pass  # a plain-text body is matched as the string it is
        return any(p.matches_event(document) for p in self._patterns)


# --------------------------------------------------------------------------- SQS


@dataclass
class SqsMapping:
    function_id: str
    source: SqsSource
    queue_url: str
    queue_arn: str
    concurrency: int = 1


class SqsPoller:
    """Delivers one queue to one function, batch by batch."""

    def __init__(
        self,
        mapping: SqsMapping,
        sqs: Any,
        invoker: Invoker,
        *,
        region: str,
        wait_seconds: int = 1,
        retry_visibility: int | None = None,
        on_result: Callable[[str, InvocationResult, BatchOutcome], None] | None = None,
    ) -> None:
        self.mapping = mapping
        self._sqs = sqs
        self._invoker = invoker
        self._region = region
        self._wait = wait_seconds
        self._retry_visibility = retry_visibility
        self._filter = EventFilter(mapping.source.filter_patterns)
        self._on_result = on_result

    def _receive(self, limit: int, wait: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=max(1, min(10, limit)),
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages") or []

    def gather(self) -> list[dict[str, Any]]:
        """Receive one batch: up to BatchSize messages, waiting up to the batching window."""
        source = self.mapping.source
        batch = self._receive(source.batch_size, self._wait)
        if not batch or source.maximum_batching_window <= 0:
            return batch
        deadline = time.monotonic() + source.maximum_batching_window
        while len(batch) < source.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(source.batch_size - len(batch), min(int(remaining + 0.999), 20))
            batch += more
        return batch

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def process(self, messages: list[dict[str, Any]]) -> BatchOutcome | None:
        """Invoke the function with ``messages`` and settle them; None when nothing was invoked."""
        if not messages:
            return None
        records = [sqs_record(m, queue_arn=self.mapping.queue_arn, region=self._region) for m in messages]
        if self._filter:
            dropped = [m for m, r in zip(messages, records) if not self._filter.matches(r)]
            if dropped:
                self._delete(dropped)
                log.info("sqs.filtered", extra=_fields(function=self.mapping.function_id, dropped=len(dropped)))
            keep = [(m, r) for m, r in zip(messages, records) if self._filter.matches(r)]
            messages, records = [m for m, _ in keep], [r for _, r in keep]
            if not messages:
                return None
        result = self._invoker.invoke(self.mapping.function_id, {"Records": records})
        outcome = settle_batch(
            [r["messageId"] for r in records],
            error=None if result.ok else (result.error or {"errorType": "Unknown"}),
            response=result.response,
            report_batch_item_failures=self.mapping.source.report_batch_item_failures,
        )
        succeeded = [m for m in messages if m["MessageId"] not in outcome.failed]
        failed = [m for m in messages if m["MessageId"] in outcome.failed]
        if succeeded:
            self._delete(succeeded)
        if failed and self._retry_visibility is not None:
            for message in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=self.mapping.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_visibility,
                )
        level = logging.INFO if outcome.ok else logging.WARNING
        log.log(
            level,
            "sqs.batch",
            extra=_fields(
                function=self.mapping.function_id, mapping=self.mapping.source.logical_id,
                size=len(messages), failed=len(failed), whole_batch=outcome.whole_batch,
                reason=outcome.reason or None, error_type=result.error_type,
                error=(result.error or {}).get("errorMessage"), duration_ms=round(result.duration_ms, 1),
                cold_start_ms=round(result.init_ms, 1) if result.init_ms is not None else None,
                request_id=result.request_id,
            ),
        )
        if self._on_result:
            self._on_result(self.mapping.function_id, result, outcome)
        return outcome

    def poll_once(self) -> BatchOutcome | None:
        return self.process(self.gather())


# --------------------------------------------------------------------------- DynamoDB Streams


class Wakeup:
    """Wakes the stream pollers when a table may have new stream records.

    Each waiting shard thread holds its own event; :meth:`notify` sets them all. A thread clears
    its event before it reads, so a record written while it reads wakes it again at once (no lost
    wake-up), and a thread that missed nothing sleeps until the next write or its idle timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[threading.Event] = []

    def listener(self) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._events.append(event)
        return event

    def notify(self) -> None:
        with self._lock:
            events = list(self._events)
        for event in events:
            event.set()


@dataclass
class StreamMapping:
    function_id: str
    source: StreamSource
    stream_arn: str
    on_failure_queue_url: str | None = None


@dataclass
class _ShardState:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)  # records read but not yet done
    attempts: int = 0
    attempt_start: str | None = None  # sequence number the failing batch starts at
    halves: int = 0  # bisections in force
    backoff: float = 0.0
    closed: bool = False


class StreamPoller:
    """Delivers one table stream to one function, each shard in order."""

    def __init__(
        self,
        mapping: StreamMapping,
        streams: Any,
        invoker: Invoker,
        *,
        region: str,
        sqs: Any = None,
        poll_interval: float = 0.25,
        max_backoff: float = 8.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_result: Callable[[str, InvocationResult, BatchOutcome], None] | None = None,
        wakeup: Wakeup | None = None,
        idle_interval: float = 2.0,
    ) -> None:
        self.mapping = mapping
        self._wakeup = wakeup
        # with a wake-up, an idle shard is read again after this long only as a safety net
        self._idle_interval = idle_interval
        self._streams = streams
        self._invoker = invoker
        self._region = region
        self._sqs = sqs
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._clock = clock
        self._sleep = sleep
        self._filter = EventFilter(mapping.source.filter_patterns)
        self._on_result = on_result
        self.shards: dict[str, _ShardState] = {}

    def discover(self) -> None:
        """Open an iterator on every shard not seen yet, at the mapping's starting position."""
        description = self._streams.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"]
        for shard in description.get("Shards") or []:
            shard_id = shard["ShardId"]
            if shard_id in self.shards:
                continue
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.mapping.stream_arn,
                ShardId=shard_id,
                ShardIteratorType=self.mapping.source.starting_position,
            )["ShardIterator"]
            self.shards[shard_id] = _ShardState(shard_id, iterator)

    def _read(self, state: _ShardState, want: int) -> None:
        if state.iterator is None or want <= 0:
            return
        response = self._streams.get_records(ShardIterator=state.iterator, Limit=min(1000, want))
        state.iterator = response.get("NextShardIterator")
        if state.iterator is None:
            state.closed = True
        state.pending += response.get("Records") or []

    def _expired(self, record: dict[str, Any]) -> bool:
        max_age = self.mapping.source.maximum_record_age
        created = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
        if max_age < 0 or created is None:
            return False
        stamp = created.timestamp() if isinstance(created, datetime) else float(created)
        return self._clock() - stamp > max_age

    def _send_to_destination(self, batch: list[dict[str, Any]], shard_id: str, condition: str, attempts: int) -> None:
        log.error(
            "stream.batch_discarded",
            extra=_fields(function=self.mapping.function_id, shard=shard_id, size=len(batch), condition=condition,
                          first=batch[0]["dynamodb"]["SequenceNumber"], last=batch[-1]["dynamodb"]["SequenceNumber"]),
        )
        if not (self._sqs and self.mapping.on_failure_queue_url):
            return
        now = datetime.now(timezone.utc).isoformat()
        body = {
            "requestContext": {"requestId": None, "functionArn": self.mapping.function_id,
                               "condition": condition, "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.mapping.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self.mapping.on_failure_queue_url, MessageBody=json.dumps(body))

    def step(self, shard_id: str) -> BatchOutcome | None:
        """Read and deliver at most one batch of one shard. None when there was nothing to do."""
        state = self.shards[shard_id]
        source = self.mapping.source
        size = max(1, source.batch_size >> state.halves)
        self._read(state, size - len(state.pending))
        if source.maximum_batching_window > 0 and 0 < len(state.pending) < size:
            deadline = self._clock() + source.maximum_batching_window
            while len(state.pending) < size and self._clock() < deadline and not state.closed:
                self._sleep(self._poll_interval)
                self._read(state, size - len(state.pending))
        # Records past their maximum age are dropped before delivery (to the destination if any).
        expired = [r for r in state.pending if self._expired(r)]
        if expired:
            state.pending = [r for r in state.pending if not self._expired(r)]
            self._send_to_destination(expired, shard_id, "RecordAgeExceeded", state.attempts)
        if self._filter:
            state.pending = [r for r in state.pending
                             if self._filter.matches(stream_record(r, stream_arn=self.mapping.stream_arn,
                                                                   region=self._region))]
        if not state.pending:
            return None
        batch = state.pending[:size]
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        records = [stream_record(r, stream_arn=self.mapping.stream_arn, region=self._region) for r in batch]
        result = self._invoker.invoke(self.mapping.function_id, {"Records": records})
        outcome = settle_batch(
            sequence_numbers,
            error=None if result.ok else (result.error or {"errorType": "Unknown"}),
            response=result.response,
            report_batch_item_failures=source.report_batch_item_failures,
        )
        checkpoint = stream_checkpoint(sequence_numbers, outcome)
        log.log(
            logging.INFO if outcome.ok else logging.WARNING,
            "stream.batch",
            extra=_fields(
                function=self.mapping.function_id, mapping=source.logical_id, shard=shard_id, size=len(batch),
                first=sequence_numbers[0], last=sequence_numbers[-1], failed_from=checkpoint,
                reason=outcome.reason or None, error_type=result.error_type,
                error=(result.error or {}).get("errorMessage"), duration_ms=round(result.duration_ms, 1),
                cold_start_ms=round(result.init_ms, 1) if result.init_ms is not None else None,
                attempt=state.attempts + 1,
            ),
        )
        if self._on_result:
            self._on_result(self.mapping.function_id, result, outcome)
        if checkpoint is None:
            state.pending = state.pending[len(batch):]
            state.attempts, state.attempt_start, state.backoff = 0, None, 0.0
            if state.halves:
                state.halves -= 1
            return outcome
        # Everything before the checkpoint is done; the rest of the batch is retried from it.
        index = sequence_numbers.index(checkpoint)
        done, retry = batch[:index], batch[index:]
        state.pending = retry + state.pending[len(batch):]
        if done or state.attempt_start != checkpoint:
            state.attempts, state.attempt_start = 0, checkpoint
        state.attempts += 1
        if source.bisect_on_error and outcome.whole_batch and len(retry) > 1:
            state.halves += 1
        if 0 <= source.maximum_retry_attempts < state.attempts:
            self._send_to_destination(retry, shard_id, "RetryAttemptsExhausted", state.attempts)
            state.pending = state.pending[len(retry):]
            state.attempts, state.attempt_start, state.halves, state.backoff = 0, None, 0, 0.0
            return outcome
        state.backoff = min(self._max_backoff, max(0.5, state.backoff * 2))
        return outcome

    def run_shard(self, shard_id: str, stop: threading.Event) -> None:
        woken = self._wakeup.listener() if self._wakeup is not None else None
        while not stop.is_set():
            state = self.shards[shard_id]
            if woken is not None:
                woken.clear()
            try:
                outcome = self.step(shard_id)
            except Exception:  # noqa: BLE001 - keep the shard alive; moto may be restarting
                if stop.is_set():
                    return
                log.exception("stream.poll_error", extra=_fields(function=self.mapping.function_id, shard=shard_id))
                stop.wait(1.0)
                continue
            if state.closed and not state.pending:
                return
            if outcome is None:
                if woken is not None:
                    woken.wait(self._idle_interval)  # Dispatcher.signal_stop rings it too
                else:
                    stop.wait(self._poll_interval)
            elif not outcome.ok:
                stop.wait(state.backoff)


# --------------------------------------------------------------------------- schedules


@dataclass
class ScheduleEntry:
    function_id: str
    source: ScheduleSource
    schedule: Schedule
    rule_arn: str
    created: datetime
    max_retries: int | None = None  # EventInvokeConfig MaximumRetryAttempts; None = Lambda's 2
    next_fire: datetime | None = None


class Scheduler:
    """Fires scheduled functions; ``fire_due(now)`` is the whole logic, the thread only ticks."""

    RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=2))

    def __init__(
        self,
        entries: list[ScheduleEntry],
        invoker: Invoker,
        *,
        region: str,
        account: str,
        executor: ThreadPoolExecutor | None = None,
        retry_delays: tuple[timedelta, ...] | None = None,
        on_result: Callable[[str, InvocationResult], None] | None = None,
    ) -> None:
        self.entries = entries
        self._invoker = invoker
        self._region = region
        self._account = account
        self._executor = executor
        self._retry_delays = self.RETRY_DELAYS if retry_delays is None else retry_delays
        self._retries: list[tuple[datetime, ScheduleEntry, Any, int]] = []
        self._lock = threading.Lock()
        self._on_result = on_result
        for entry in entries:
            entry.next_fire = entry.schedule.next_fire(entry.created, created=entry.created)

    def _event(self, entry: ScheduleEntry, now: datetime) -> Any:
        if entry.source.input is not None:
            return entry.source.input
        if entry.source.kind == "scheduler":
            return {}
        return scheduled_event(rule_arn=entry.rule_arn, region=self._region, account=self._account, now=now)

    def _run(self, entry: ScheduleEntry, event: Any, attempt: int, now: datetime) -> InvocationResult:
        result = self._invoker.invoke(entry.function_id, event)
        log.log(
            logging.INFO if result.ok else logging.WARNING,
            "schedule.fired",
            extra=_fields(function=entry.function_id, schedule=entry.source.logical_id,
                          expression=entry.source.expression, attempt=attempt + 1, ok=result.ok,
                          error_type=result.error_type, error=(result.error or {}).get("errorMessage"),
                          duration_ms=round(result.duration_ms, 1)),
        )
        allowed = len(self._retry_delays) if entry.max_retries is None else min(entry.max_retries,
                                                                                 len(self._retry_delays))
        if not result.ok and attempt < allowed:
            with self._lock:
                self._retries.append((now + self._retry_delays[attempt], entry, event, attempt + 1))
        if self._on_result:
            self._on_result(entry.function_id, result)
        return result

    def _submit(self, entry: ScheduleEntry, event: Any, attempt: int, now: datetime) -> None:
        if self._executor is None:
            self._run(entry, event, attempt, now)
        else:
            self._executor.submit(self._run, entry, event, attempt, now)

    def fire_due(self, now: datetime) -> int:
        """Invoke every entry whose time has come (and due retries); returns how many started."""
        started = 0
        for entry in self.entries:
            if not entry.source.enabled:
                continue
            while entry.next_fire is not None and entry.next_fire <= now:
                fire_time = entry.next_fire
                entry.next_fire = entry.schedule.next_fire(fire_time, created=entry.created)
                # A stack that was paused (laptop asleep) fires once, not once per missed slot.
                if entry.next_fire is not None and entry.next_fire <= now:
                    continue
                self._submit(entry, self._event(entry, fire_time), 0, now)
                started += 1
        with self._lock:
            due = [r for r in self._retries if r[0] <= now]
            self._retries = [r for r in self._retries if r[0] > now]
        for _, entry, event, attempt in due:
            self._submit(entry, event, attempt, now)
            started += 1
        return started

    def run(self, stop: threading.Event, clock: Callable[[], datetime] | None = None) -> None:
        clock = clock or (lambda: datetime.now(timezone.utc))
        while not stop.is_set():
            try:
                self.fire_due(clock())
            except Exception:  # noqa: BLE001
                log.exception("schedule.error")
            stop.wait(0.5)


# --------------------------------------------------------------------------- the service


class Dispatcher:
    """Runs every poller and the scheduler on daemon threads until :meth:`stop`."""

    def __init__(
        self,
        *,
        invoker: Invoker,
        sqs: Any,
        streams: Any,
        region: str,
        account: str,
        sqs_mappings: list[SqsMapping] = (),  # type: ignore[assignment]
        stream_mappings: list[StreamMapping] = (),  # type: ignore[assignment]
        schedules: list[ScheduleEntry] = (),  # type: ignore[assignment]
        retry_visibility: int | None = None,
        poll_wait: int = 1,
        schedule_workers: int = 4,
        stream_wakeup: Wakeup | None = None,
    ) -> None:
        self._stop = threading.Event()
        self._stream_wakeup = stream_wakeup
        self._threads: list[threading.Thread] = []
        self._executor = ThreadPoolExecutor(max_workers=schedule_workers, thread_name_prefix="schedule")
        self.sqs_pollers = [
            SqsPoller(m, sqs, invoker, region=region, wait_seconds=poll_wait, retry_visibility=retry_visibility)
            for m in sqs_mappings if m.source.enabled
        ]
        self.stream_pollers = [
            StreamPoller(m, streams, invoker, region=region, sqs=sqs, wakeup=stream_wakeup)
            for m in stream_mappings if m.source.enabled
        ]
        self.scheduler = Scheduler(list(schedules), invoker, region=region, account=account, executor=self._executor)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _sqs_loop(self, poller: SqsPoller) -> None:
        while not self._stop.is_set():
            try:
                poller.poll_once()
            except Exception:  # noqa: BLE001 - a poll error must not kill the mapping
                if self._stop.is_set():
                    return
                log.exception("sqs.poll_error", extra=_fields(function=poller.mapping.function_id))
                self._stop.wait(1.0)

    def start(self) -> None:
        """Open stream iterators first (synchronously, so LATEST means "from now"), then poll."""
        for poller in self.stream_pollers:
            poller.discover()
        for poller in self.sqs_pollers:
            for i in range(max(1, poller.mapping.concurrency)):
                self._spawn(f"sqs-{poller.mapping.source.logical_id}-{i}", self._sqs_loop, poller)
        for poller in self.stream_pollers:
            for shard_id in list(poller.shards):
                self._spawn(f"stream-{poller.mapping.source.logical_id}-{shard_id[-8:]}",
                            poller.run_shard, shard_id, self._stop)
        if self.scheduler.entries:
            self._spawn("scheduler", self.scheduler.run, self._stop)

    def signal_stop(self) -> None:
        """Ask every poller to finish its current batch and stop (returns at once)."""
        self._stop.set()
        if self._stream_wakeup is not None:
            self._stream_wakeup.notify()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def stop(self, timeout: float = 5.0) -> None:
        self.signal_stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._executor.shutdown(wait=False, cancel_futures=True)
