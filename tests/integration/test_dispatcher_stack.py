"""The local stack's dispatcher against moto in server mode, with the tiny stack of
tests/data/localstack/ (its functions record what they see in ResultsTable). Real worker
processes, real queues and streams: Lambda's batch semantics end to end."""
from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

TINY = Path(__file__).resolve().parent.parent / "data" / "localstack" / "template.yaml"


@pytest.fixture(scope="module")
def tiny():
    from infra.localstack.stack import LocalStack, StackOptions

    # Queues keep Lambda's visibility (6x the timeout); failed messages come back after 1 s through
    # the stack's --retry-visibility knob, so receive counts and DLQ moves are SQS's own, quickly.
    options = StackOptions(template=TINY, moto_port=0, serve_api=False, seed=False, start_services=False,
                           apply_env=False, write_state=False, function_concurrency=2, retry_visibility=1)
    stack = LocalStack(options).start()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as warm:  # pay the cold starts before the clocks in the tests start
        list(warm.map(stack.pool.prewarm, stack.pool.functions))
    yield stack
    stack.stop()


def eventually(check, timeout=20.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def results(stack, prefix):
    table = stack.resource("dynamodb").Table(stack.deployed.physical_id("ResultsTable"))
    items = table.scan()["Items"]
    while "LastEvaluatedKey" in items:  # pragma: no cover - small tables
        break
    return [i for i in items if i["pk"].startswith(prefix)]


def send(stack, queue, bodies):
    sqs = stack.client("sqs")
    url = stack.deployed.physical_id(queue)
    for start in range(0, len(bodies), 10):
        chunk = bodies[start:start + 10]
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": json.dumps(b)}
                                                      for i, b in enumerate(chunk)])


def queue_depth(stack, queue):
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.deployed.physical_id(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_function_environment_is_resolved_to_physical_ids_when_deployed(tiny):
    env = tiny.functions["RecordBatchFunction"].env
    assert env["WORK_QUEUE_URL"] == tiny.deployed.physical_id("WorkQueue")
    assert env["RESULTS_TABLE"] == tiny.deployed.physical_id("ResultsTable")
    assert env["WORK_QUEUE_ARN"].startswith("arn:aws:sqs:ap-northeast-2:") and env["WORK_QUEUE_ARN"].endswith(
        env["WORK_QUEUE_URL"].rsplit("/", 1)[1])
    assert env["GREETING"] == "hello-ap-northeast-2"
    assert tiny.deployed.created_locally == {"TickFunctionEveryMinuteV2": "AWS::Scheduler::Schedule"}


def test_batches_respect_batch_size_and_successes_are_deleted_when_many_messages_wait(tiny):
    run = uuid.uuid4().hex[:8]
    send(tiny, "WorkQueue", [{"id": f"{run}-{i}"} for i in range(9)])
    seen = eventually(lambda: len(r := results(tiny, f"seen#{run}")) == 9 and r)
    assert seen, "not every message was delivered"
    assert max(int(i["batch_size"]) for i in seen) <= 4
    assert {i["sk"][:3] for i in seen} == {"001"}  # each delivered once, first receive
    assert eventually(lambda: queue_depth(tiny, "WorkQueue") == 0, timeout=5)


def test_partial_failure_is_retried_then_lands_in_dlq_when_max_receive_count_reached(tiny):
    run = uuid.uuid4().hex[:8]
    send(tiny, "WorkQueue", [{"id": f"{run}-ok-{i}"} for i in range(2)] + [{"id": f"{run}-poison", "fail": True}])
    dlq = tiny.deployed.physical_id("WorkDLQ")
    sqs = tiny.client("sqs")

    def in_dlq():
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        return [m for m in messages if run in m["Body"]]

    moved = eventually(in_dlq, timeout=30, interval=0.5)
    assert [json.loads(m["Body"])["id"] for m in moved] == [f"{run}-poison"]
    poison_counts = sorted(i["sk"][:3] for i in results(tiny, f"seen#{run}-poison"))
    assert poison_counts == ["001", "002", "003"]  # maxReceiveCount 3, counts from SQS itself
    assert all(i["sk"].startswith("001") for i in results(tiny, f"seen#{run}-ok"))


def test_whole_batch_returns_and_reaches_dlq_when_function_raises_without_item_reporting(tiny):
    run = uuid.uuid4().hex[:8]
    send(tiny, "WholeQueue", [{"id": f"{run}-{i}", "fail": i == 0} for i in range(3)])
    assert eventually(lambda: queue_depth(tiny, "WholeDLQ") >= 3, timeout=30, interval=0.5)
    counts = sorted(i["sk"][:3] for i in results(tiny, f"whole#{run}"))
    assert counts == ["001"] * 3 + ["002"] * 3  # every message retried with the batch


def test_returned_failures_are_ignored_when_mapping_lacks_report_batch_item_failures(tiny):
    run = uuid.uuid4().hex[:8]
    send(tiny, "WholeQueue", [{"id": f"{run}-{i}"} for i in range(2)])
    assert eventually(lambda: len(results(tiny, f"whole#{run}")) == 2)
    # deleted, not merely in flight (a kept message would be counted until it comes back): no retry
    assert eventually(lambda: queue_depth(tiny, "WholeQueue") == 0, timeout=10)
    assert sorted(i["sk"][:3] for i in results(tiny, f"whole#{run}")) == ["001", "001"]


def test_stream_records_arrive_in_order_and_retry_from_failed_record_when_item_fails(tiny):
    ddb = tiny.client("dynamodb")
    table = tiny.deployed.physical_id("SourceTable")
    run = uuid.uuid4().hex[:8]
    keys = [f"{run}-{i}" for i in range(8)]
    for i, key in enumerate(keys):
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "fail_times": {"N": "2" if i == 3 else "0"}})

    def delivered():
        return [i for i in results(tiny, "delivered") if i["key"].startswith(run)]

    got = eventually(lambda: len(d := delivered()) == 8 and d, timeout=30)
    assert got, "stream records missing"
    assert [i["key"] for i in sorted(got, key=lambda i: i["sk"])] == keys
    attempts = {i["pk"].split("#", 1)[1]: int(i["n"]) for i in results(tiny, f"attempts#{run}")}
    assert attempts[keys[3]] == 3  # failed twice, then delivered
    assert all(attempts[k] == 1 for k in keys[:3])  # before the failure: never retried


def test_schedules_fire_with_their_input_when_due(tiny):
    scheduler = tiny.dispatcher.scheduler
    later = max(e.created for e in scheduler.entries) + timedelta(minutes=1, seconds=1)
    scheduler.fire_due(later)  # the rate rule is due; the every-minute cron may already have fired

    def jobs():
        return {json.loads(t["event"])["job"] for t in results(tiny, "tick")}

    assert eventually(lambda: jobs() == {"rule", "scheduler"})
    assert all(e.next_fire > later for e in scheduler.entries)


def test_moto_does_not_trigger_functions_itself_when_messages_arrive(tiny):
    from moto.sqs.models import sqs_backends

    queues = sqs_backends[tiny.deployed.account][tiny.deployed.region].queues.values()
    assert all(not q.lambda_event_source_mappings for q in queues)
    mappings = tiny.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert len(mappings) == 3  # still listed, as deployed


def test_slow_function_times_out_and_its_worker_is_replaced_when_timeout_exceeded(tiny, tmp_path):
    from infra.localstack.runtime import FunctionConfig, WorkerPool

    (tmp_path / "handler.py").write_text(
        "import time\ndef lambda_handler(event, context):\n"
        "    time.sleep(event['sleep'])\n    return {'left': context.get_remaining_time_in_millis()}\n")
    fn = FunctionConfig("Slow", "slow", tmp_path, "handler.lambda_handler", env={}, timeout=1.0)
    pool = WorkerPool({"Slow": fn}, base_env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(TINY.parents[3])},
                      region="ap-northeast-2", account="123456789012")
    try:
        slow = pool.invoke("Slow", {"sleep": 3})
        assert not slow.ok and slow.error_type == "Sandbox.Timedout"
        fast = pool.invoke("Slow", {"sleep": 0})
        assert fast.ok and 0 < fast.response["left"] <= 1000
        assert fast.init_ms is not None  # a fresh environment: cold start again
    finally:
        pool.close()


def test_invoke_command_runs_a_function_once_with_the_given_event_when_stack_runs(tiny, tmp_path):
    import os
    import subprocess
    import sys

    from infra.localstack.state import write_stack_state

    write_stack_state(tiny.state, tmp_path)  # this process hosts the tiny stack, so the pid is alive
    env = {**os.environ, "SOS1379_STATE_DIR": str(tmp_path)}
    env.pop("AWS_ENDPOINT_URL", None)
    code = "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))"
    run = uuid.uuid4().hex
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps({"job": run}))
    done = subprocess.run([sys.executable, "-c", code, "invoke", "TickFunction", "--event", str(event_file)],
                          cwd=TINY.parents[3], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] is True and answer["response"] == {"ok": True}
    assert [json.loads(t["event"]) for t in results(tiny, "tick") if run in t["event"]] == [{"job": run}]
    missing = subprocess.run([sys.executable, "-c", code, "invoke", "NoSuchFunction"], cwd=TINY.parents[3],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "TickFunction" in missing.stderr
