"""The whole case pipeline in one process, on in-process moto, with Lambda's delivery semantics:

    POST /cases (chalice.test.Client, the real app)
      -> CasesTable stream -> RelayOutboxFunction   (StreamPoller: retries from the failed record)
      -> IntakeQueue       -> RouteCaseFunction     (SqsPoller: batchItemFailures, redelivery, DLQ)
      -> referral queues (one per institute)
      -> NotifyQueue       -> NotifySmeFunction     (SqsPoller) -> SNS SMS / SES email (moto)

The pollers are the local stack's own dispatcher classes (infra/localstack/dispatcher.py) driven by
a single-threaded pump, so the run is reproducible for a seed. The functions are the real handler
files. :meth:`PipelineHarness.audit` then measures the promises against moto's own records: every
accepted case routed and notified, no duplicate referral, no duplicate SMS or email.

Differences from AWS, on purpose: a failed SQS message is retried after ``retry_visibility``
seconds (AWS waits for the queue's visibility timeout), the functions' context reports a short
remaining time (so a Powertools in-progress record expires before the retry, as it would after a
real timeout), and batching windows are 0 (the pump polls continuously).
"""
from __future__ import annotations

import importlib.util
import json
import os
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
STACK = "test"
SENDER = "no-reply@sos1379.example.kr"
STREAMS_ENDPOINT = "https://streams.dynamodb.ap-northeast-2.amazonaws.com"
SAMPLES = ("weld_crack_ko.json", "sensor_drift_en.json", "export_loan_ko.json")

_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
             "CASES_TABLE", "IDEMPOTENCY_TABLE", "INTAKE_QUEUE_URL", "NOTIFY_QUEUE_URL", "REFERRAL_QUEUE_PREFIX",
             "HANDOFF_QUEUE_PREFIX",
             "PUBLIC_BASE_URL", "NOTIFY_SENDER_EMAIL", "NOTIFY_QUIET_START_HOUR", "NOTIFY_QUIET_END_HOUR",
             "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME",
             "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_IDEMPOTENCY_DISABLED")


def sample_submission(index: int) -> dict:
    """A valid submission, one of the project's samples, with a contact unique to ``index``."""
    name = SAMPLES[index % len(SAMPLES)]
    body = json.loads((ROOT / "events" / "cases" / name).read_text(encoding="utf-8"))
    body["contact"]["phone"] = f"010-{5000 + index // 10000:04d}-{index % 10000:04d}"
    body["contact"]["email"] = f"sme{index}@example.com"
    body["contact"]["preferred_channels"] = ["sms", "email"]
    body["title"] = f"{body['title']} #{index}"
    return body


def e164(phone: str) -> str:
    from sos1379.korea import normalize_mobile

    return normalize_mobile(phone)


def load_handler(function_dir: str) -> Any:
    path = ROOT / "functions" / function_dir / "handler.py"
    spec = importlib.util.spec_from_file_location(f"_reliability_{function_dir}_{uuid.uuid4().hex[:8]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- moto account


def build_account(template: dict, stack: str = STACK) -> tuple[dict[str, str], dict[str, str]]:
    """Every DynamoDB table (with its TTL) and SQS queue (DLQs and redrive policies) of the
    template in the active in-process moto, named ``{stack}-{LogicalId}`` or the template's own
    ``QueueName``. Queues are created straight in moto's backend: the template has ~70 and a
    botocore round trip each would cost about a second per test."""
    import boto3
    from moto.sqs.models import sqs_backends

    ddb = boto3.session.Session().client("dynamodb", region_name=REGION)
    tables: dict[str, str] = {}
    queues: dict[str, str] = {}
    resources = template["Resources"]
    for logical_id, res in resources.items():
        if res["Type"] != "AWS::DynamoDB::Table":
            continue
        props = res["Properties"]
        kwargs = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        name = f"{stack}-{logical_id}"
        ddb.create_table(TableName=name, **kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
        tables[logical_id] = name

    backend = sqs_backends[ACCOUNT][REGION]

    def create(name: str, attributes: dict) -> str:
        backend.create_queue(name, **attributes)
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"

    def queue_name(logical_id: str, props: dict) -> str:
        name = props.get("QueueName", f"{stack}-{logical_id}")
        if isinstance(name, dict):  # !Sub "${AWS::StackName}-referral-KITECH"
            name = name["Fn::Sub"].replace("${AWS::StackName}", stack)
        return name

    # DLQs first: the source queues' redrive policies name them
    for redriven in (False, True):
        for logical_id, res in resources.items():
            props = res.get("Properties", {})
            if res["Type"] != "AWS::SQS::Queue" or ("RedrivePolicy" in props) != redriven:
                continue
            attrs = {}
            if redriven:
                dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                attrs = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30)),
                         "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(queues[dlq_id]),
                                                      "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"]})}
            queues[logical_id] = create(queue_name(logical_id, props), attrs)
    return tables, queues


def queue_arn(url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[1]}"


# --------------------------------------------------------------------------- invoking functions


@dataclass
class Function:
    handler: Callable[[dict, Any], Any]
    timeout_s: float


class LocalInvoker:
    """Runs handlers in this process and answers like Lambda (InvocationResult). ``before`` hooks
    let a test crash a function on purpose."""

    def __init__(self, functions: dict[str, Function]) -> None:
        self.functions = functions
        self.invocations: Counter = Counter()
        self.errors: Counter = Counter()
        self.before: dict[str, Callable[[dict], None]] = {}

    def invoke(self, function_id: str, event: Any, *, request_id: str | None = None):
        from infra.localstack.context import LambdaContext, encode_response, error_payload
        from infra.localstack.runtime import InvocationResult

        fn = self.functions[function_id]
        request_id = request_id or str(uuid.uuid4())
        self.invocations[function_id] += 1
        started = time.perf_counter()
        context = LambdaContext(function_id, timeout_s=fn.timeout_s, request_id=request_id)
        try:
            if function_id in self.before:
                self.before[function_id](event)
            response, ok, error = encode_response(fn.handler(event, context)), True, None
        except Exception as exc:  # noqa: BLE001 - the function's error is the result
            response, ok, error = None, False, error_payload(exc)
            self.errors[function_id] += 1
        return InvocationResult(function_id, request_id, ok, response=response, error=error,
                                duration_ms=(time.perf_counter() - started) * 1000)


# --------------------------------------------------------------------------- the harness


@dataclass
class ClientLog:
    accepted: list[dict] = field(default_factory=list)      # receipts of 201 answers
    statuses: Counter = field(default_factory=Counter)      # every answer's status code
    errors_seen: int = 0                                    # non-2xx answers the client saw
    retried_submissions: int = 0                            # submissions that needed more than one try
    gave_up: int = 0                                        # submissions never accepted
    replayed: int = 0                                       # 201s that were Idempotency-Key replays


class PipelineHarness:
    """Start with ``with PipelineHarness() as h:``; needs no network and no running stack."""

    def __init__(self, *, retry_visibility: int = 1, consumer_timeout_s: float = 0.3,
                 client_attempts: int = 8) -> None:
        self.retry_visibility = retry_visibility
        self.consumer_timeout_s = consumer_timeout_s
        self.client_attempts = client_attempts
        self.client_log = ClientLog()
        self._saved_env: dict[str, str | None] = {}
        self._mock = None

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> "PipelineHarness":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        import boto3
        from moto import mock_aws

        from infra.reliability.faults import install_hook
        from infra.localstack.motofast import moto_fixes
        from infra.template import load_template

        install_hook()  # every client created from here on carries the fault hook
        self._saved_env = {k: os.environ.get(k) for k in _ENV_KEYS}
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(key, None)
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION,
                          POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="SOS1379",
                          # not "sos1379": that is also the Chalice app's logger in this one process
                          # (app.py), and whichever configures it first breaks the other's formatter
                          POWERTOOLS_SERVICE_NAME="sos1379-functions")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        self._mock = mock_aws()
        self._mock.start()
        self._fast = moto_fixes()  # moto's per-transaction table copies and full-table queries
        self._fast.__enter__()
        self.tables, self.queues = build_account(load_template(ROOT / "template.yaml"))
        os.environ.update(CASES_TABLE=self.tables["CasesTable"], IDEMPOTENCY_TABLE=self.tables["IdempotencyTable"],
                          INTAKE_QUEUE_URL=self.queues["IntakeQueue"], NOTIFY_QUEUE_URL=self.queues["NotifyQueue"],
                          REFERRAL_QUEUE_PREFIX=f"{STACK}-referral-", HANDOFF_QUEUE_PREFIX=f"{STACK}-handoff-",
                          PUBLIC_BASE_URL="https://sos1379.example.kr",
                          NOTIFY_SENDER_EMAIL=SENDER,
                          # quiet hours off: start == end means never quiet (the run must not wait
                          # for 08:00 KST; deferral has its own tests)
                          NOTIFY_QUIET_START_HOUR="0", NOTIFY_QUIET_END_HOUR="0")
        self.reset_caches()
        session = boto3.session.Session()
        self.sqs = session.client("sqs", region_name=REGION)
        self.ddb = session.resource("dynamodb", region_name=REGION)
        session.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
        self.streams = session.client("dynamodbstreams", region_name=REGION, endpoint_url=STREAMS_ENDPOINT)
        self._build_consumers()
        from chalice.test import Client

        from app import app

        self._client_cm = Client(app)
        self.client = self._client_cm.__enter__()

    def stop(self) -> None:
        try:
            self._client_cm.__exit__(None, None, None)
        except Exception:  # noqa: BLE001
            pass
        if self._mock is not None:
            self._fast.__exit__(None, None, None)
            self._mock.stop()
            self._mock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.reset_caches()

    def reset_caches(self) -> None:
        from infra.reliability.faults import reset_known_clients
        from sos1379.settings import get_settings

        get_settings.cache_clear()
        reset_known_clients()
        for module in getattr(self, "modules", {}).values():
            deps = getattr(module, "_dependencies", None)
            if deps is not None and hasattr(deps, "cache_clear"):
                deps.cache_clear()

    def _build_consumers(self) -> None:
        from infra.localstack.dispatcher import SqsMapping, SqsPoller, StreamMapping, StreamPoller
        from infra.template import SqsSource, StreamSource

        self.modules = {"RelayOutboxFunction": load_handler("relay_outbox"),
                        "RouteCaseFunction": load_handler("route_case"),
                        "NotifySmeFunction": load_handler("notify_sme")}
        self.invoker = LocalInvoker({fid: Function(m.lambda_handler, self.consumer_timeout_s)
                                     for fid, m in self.modules.items()})
        stream_arn = self.ddb.meta.client.describe_table(TableName=self.tables["CasesTable"])["Table"][
            "LatestStreamArn"]
        # mirrors template.yaml's CaseStream mapping (batching window 0: the pump polls continuously)
        relay_source = StreamSource(logical_id="CaseStream", table="CasesTable", starting_position="TRIM_HORIZON",
                                    batch_size=100, report_batch_item_failures=True, bisect_on_error=True)
        self.relay = StreamPoller(StreamMapping("RelayOutboxFunction", relay_source, stream_arn,
                                                self.queues.get("RelayDLQ")),
                                  self.streams, self.invoker, region=REGION, sqs=self.sqs,
                                  poll_interval=0.0, sleep=lambda _s: None)
        self.relay.discover()

        def sqs_poller(function_id: str, queue: str, mapping: str) -> SqsPoller:
            source = SqsSource(logical_id=mapping, queue=queue, batch_size=10, report_batch_item_failures=True)
            url = self.queues[queue]
            return SqsPoller(SqsMapping(function_id, source, url, queue_arn(url)), self.sqs, self.invoker,
                             region=REGION, wait_seconds=0, retry_visibility=self.retry_visibility)

        self.route = sqs_poller("RouteCaseFunction", "IntakeQueue", "Intake")
        self.notify = sqs_poller("NotifySmeFunction", "NotifyQueue", "Notify")

    # --- the client -----------------------------------------------------------------------------
    def submit(self, payload: dict, key: str | None = None) -> dict | None:
        """POST /cases like a careful client: same Idempotency-Key on every retry of a 5xx / 429."""
        key = key or uuid.uuid4().hex
        body = json.dumps(payload, ensure_ascii=False)
        for attempt in range(self.client_attempts):
            response = self.client.http.post("/cases", headers={"Content-Type": "application/json",
                                                                 "Idempotency-Key": key}, body=body)
            self.client_log.statuses[response.status_code] += 1
            if response.status_code == 201:
                if attempt:
                    self.client_log.retried_submissions += 1
                receipt = response.json_body
                if response.headers.get("Idempotent-Replayed") == "true":
                    self.client_log.replayed += 1
                self.client_log.accepted.append(receipt)
                return receipt
            self.client_log.errors_seen += 1
            if response.status_code < 500 and response.status_code != 429:
                break  # a 4xx is the client's own fault: retrying the same body cannot help
        self.client_log.gave_up += 1
        return None

    # --- delivery -----------------------------------------------------------------------------
    def _in_flight(self) -> int:
        total = 0
        for queue in ("IntakeQueue", "NotifyQueue"):
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=self.queues[queue],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            total += sum(int(v) for v in attrs.values())
        return total + sum(len(s.pending) for s in self.relay.shards.values())

    def pump(self, max_seconds: float = 300.0) -> float:
        """Deliver until the stream and both queues are empty (or ``max_seconds``); returns seconds."""
        started = time.monotonic()
        idle = 0
        while time.monotonic() - started < max_seconds:
            progressed = False
            for shard_id in list(self.relay.shards):
                while self.relay.step(shard_id) is not None:
                    progressed = True
            for poller in (self.route, self.notify):
                for _ in range(20):
                    if poller.poll_once() is None:
                        break
                    progressed = True
            if progressed:
                idle = 0
                continue
            if self._in_flight():
                time.sleep(0.1)  # messages waiting out their retry visibility
                continue
            idle += 1
            if idle >= 2:
                break
        return time.monotonic() - started

    def dlq_counts(self) -> dict[str, int]:
        out = {}
        for logical_id, url in self.queues.items():
            if "DLQ" not in logical_id:
                continue
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            n = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
            if n:
                out[logical_id] = n
        return out

    def redrive_all(self) -> dict[str, dict]:
        """What an operator does after fixing the cause: ``sos1379 dlq redrive`` for each DLQ."""
        from infra.cli.dlq import redrive

        sources = {"IntakeDLQ": "IntakeQueue", "NotifyDLQ": "NotifyQueue"}
        return {dlq: redrive(self.sqs, self.queues[dlq], self.queues[src])
                for dlq, src in sources.items() if self.dlq_counts().get(dlq)}

    # --- the promises -------------------------------------------------------------------------
    def referral_messages(self) -> list[dict]:
        """Every referral message sent so far (received once, kept: later audits see them too)."""
        bodies = self.__dict__.setdefault("_referral_bodies", [])
        for logical_id, url in self.queues.items():
            if not logical_id.startswith("ReferralQueue"):
                continue
            while True:
                msgs = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                VisibilityTimeout=600).get("Messages", [])
                if not msgs:
                    break
                bodies += [json.loads(m["Body"]) for m in msgs]
        return bodies

    def dead_letters(self, dlq: str) -> list[dict]:
        """The bodies waiting in a DLQ, left there (made visible again at once)."""
        seen: dict[str, dict] = {}
        handles = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.queues[dlq], MaxNumberOfMessages=10,
                                            VisibilityTimeout=60).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                handles.append(m["ReceiptHandle"])
                try:
                    seen[m["MessageId"]] = json.loads(m["Body"])
                except ValueError:
                    seen[m["MessageId"]] = {}
        for handle in handles:
            self.sqs.change_message_visibility(QueueUrl=self.queues[dlq], ReceiptHandle=handle, VisibilityTimeout=0)
        return list(seen.values())

    def audit(self) -> dict:
        """Measure every promise on what moto recorded. Call once, after :meth:`pump`."""
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        from sos1379.lifecycle import NOTIFY_EVENTS
        from sos1379.notify.templates import load_templates
        from sos1379.store import CaseStore

        store = CaseStore(self.tables["CasesTable"], self.ddb)
        templates = load_templates()
        sms_by_phone = Counter(phone for phone, _ in sns_backends[ACCOUNT][REGION].sms_messages.values())
        email_by_address: Counter = Counter()
        for message in ses_backends[ACCOUNT][REGION].sent_messages:
            for address in (message.destinations or {}).get("ToAddresses", []):
                email_by_address[address] += 1

        referral_msgs = self.referral_messages()
        copies_by_referral = Counter(m["referral_id"] for m in referral_msgs)
        referral_ids_by_pair: dict[tuple[str, str], set[str]] = defaultdict(set)
        for m in referral_msgs:
            referral_ids_by_pair[(m["case_id"], m["institute"])].add(m["referral_id"])

        dead_notifications = Counter(b["case_id"] for b in self.dead_letters("NotifyDLQ"))
        figures = Counter()
        decisions = Counter()
        lost_examples: list[str] = []
        seen_case_ids = set()
        for receipt in self.client_log.accepted:
            case_id = receipt["case_id"]
            if case_id in seen_case_ids:
                continue
            seen_case_ids.add(case_id)
            case = store.get_case(case_id)
            history = store.history(case_id)
            types = [e["type"] for e in history]
            routed = "case.routed" in types
            decisions[(case.get("routing") or {}).get("decision", "none")] += 1
            expected = sum(1 for t in types if t in NOTIFY_EVENTS and templates.knows(t))
            phone, email = case["contact"]["phone"], case["contact"]["email"]
            sms, mails = sms_by_phone.get(phone, 0), email_by_address.get(email, 0)
            missing_sms, missing_mail = max(0, expected - sms), max(0, expected - mails)
            missing = missing_sms + missing_mail
            # a loss is "explained" (visible, not silent) when the notifier recorded the send as
            # "sent, unconfirmed" (the claim-retry defect, docs/reliability.md finding 1) or the
            # message waits in NotifyDLQ for a redrive (finding 7); the figures count it anyway
            unconfirmed = Counter(e["data"].get("channel") for e in history
                                  if e["type"] == "notification.attempt" and e["data"].get("status") == "sent"
                                  and e["data"].get("reason") == "unconfirmed_after_interruption")
            in_dlq = dead_notifications.get(case_id, 0)  # waiting for an operator's redrive
            explained = min(missing_sms, unconfirmed["sms"] + in_dlq) + min(missing_mail, unconfirmed["email"] + in_dlq)
            figures["notifications_expected"] += 2 * expected
            figures["notifications_missing"] += missing
            figures["notifications_unconfirmed"] += sum(unconfirmed.values())
            figures["notifications_missing_unexplained"] += missing - explained
            if not routed or missing - explained:
                figures["lost_cases_unexplained"] += 1
            figures["sms_duplicates"] += max(0, sms - expected)
            figures["email_duplicates"] += max(0, mails - expected)
            if not routed:
                figures["not_routed"] += 1
            if not routed or missing:
                figures["lost_cases"] += 1
                if len(lost_examples) < 5:
                    lost_examples.append(f"{case_id} status={case['status']} routed={routed} "
                                         f"notify expected={expected} sms={sms} email={mails}")
            items = store.referrals(case_id)
            pairs = Counter((r["case_id"], r["institute"]) for r in items)
            figures["referrals"] += len(items)
            figures["duplicate_referral_items"] += sum(n - 1 for n in pairs.values())
            for r in items:
                if r.get("status") in ("referred", "accepted"):
                    if copies_by_referral.get(r["referral_id"], 0) == 0:
                        figures["referral_messages_missing"] += 1
                    if len(referral_ids_by_pair.get((case_id, r["institute"]), set())) > 1:
                        figures["duplicate_referrals"] += 1
            figures["cases_double_submitted_events"] += max(0, types.count("case.submitted") - 1)
            figures["cases_double_routed"] += max(0, types.count("case.referred") + types.count("case.handed_off")
                                                  + types.count("case.triaged") - 1)
        figures["referral_message_copies"] = sum(n - 1 for n in copies_by_referral.values())
        figures["accepted_cases"] = len(seen_case_ids)
        return {**{k: figures.get(k, 0) for k in (
            "accepted_cases", "lost_cases", "lost_cases_unexplained", "not_routed", "notifications_expected",
            "notifications_missing", "notifications_unconfirmed", "notifications_missing_unexplained",
            "sms_duplicates", "email_duplicates", "referrals", "duplicate_referrals", "duplicate_referral_items",
            "referral_messages_missing", "referral_message_copies", "cases_double_submitted_events",
            "cases_double_routed")},
            "decisions": dict(decisions), "lost_examples": lost_examples}


@dataclass
class FaultRunResult:
    figures: dict
    harness_stats: dict


def run_pipeline(n: int, *, sqs_rate: float = 0.2, ddb_rate: float = 0.05, seed: int = 1379,
                 max_seconds: float = 600.0, batch: int = 50) -> dict:
    """Submit ``n`` cases through the whole pipeline under SQS-send and DynamoDB-write faults and
    return the figures (see docs/reliability.md)."""
    from infra.reliability.faults import FaultRule, inject

    started = time.monotonic()
    with PipelineHarness() as harness:
        rules = [FaultRule.writes("sqs", sqs_rate), FaultRule.writes("dynamodb", ddb_rate)]
        with inject(*rules, seed=seed) as injector:
            harness.reset_caches()
            for start in range(0, n, batch):
                for i in range(start, min(n, start + batch)):
                    harness.submit(sample_submission(i))
                harness.pump(max_seconds=max_seconds)
            harness.pump(max_seconds=max_seconds)
            injector.enabled = False
            faults = injector.stats.as_dict()
        dlq_before = harness.dlq_counts()
        before = harness.audit()
        redriven = harness.redrive_all() if dlq_before else {}
        if redriven:
            harness.pump(max_seconds=max_seconds)
        figures = harness.audit() if redriven else before
        log = harness.client_log
        return {
            "submissions": n, "sqs_send_fault_rate": sqs_rate, "dynamodb_write_fault_rate": ddb_rate, "seed": seed,
            **figures,
            "lost_cases_before_redrive": before["lost_cases"],
            "dlq_after_run": dlq_before, "dlq_redriven": redriven, "dlq_after_redrive": harness.dlq_counts(),
            "api": {"accepted": len(log.accepted), "client_errors_seen": log.errors_seen,
                    "statuses": {str(k): v for k, v in sorted(log.statuses.items())},
                    "submissions_retried": log.retried_submissions, "replayed_201": log.replayed,
                    "gave_up": log.gave_up},
            "invocations": dict(harness.invoker.invocations), "invocation_errors": dict(harness.invoker.errors),
            "faults": faults, "seconds": round(time.monotonic() - started, 1),
        }
