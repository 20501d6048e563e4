"""template.yaml is operable in AWS: every alarm reaches someone, every function keeps its logs for
a bounded time, nothing stateful disappears with a stack, and the linters AWS engineers run are
clean. Each check covers every function, alarm, queue and table, including ones added later: a
failure message says exactly what to add (docs/deploy.md, "Adding a function")."""
from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT

TOPIC = "OpsAlarmTopic"


@pytest.fixture(scope="module")
def cfn():
    from infra.localstack.stack import LOCAL_PARAMETERS
    from infra.template import load_cloudformation

    return load_cloudformation(ROOT / "template.yaml", parameter_values=LOCAL_PARAMETERS)


def _of(cfn, kind):
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == kind}


def _ref(value):
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def _alarms_on(cfn, metric, dimension, target):
    found = []
    for name, alarm in _of(cfn, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        dims = {d["Name"]: _ref(d["Value"]) for d in props.get("Dimensions", [])}
        if props.get("MetricName") == metric and dims.get(dimension) == target:
            found.append(name)
    return found


def test_every_alarm_notifies_the_ops_topic(cfn):
    silent = [name for name, alarm in _of(cfn, "AWS::CloudWatch::Alarm").items()
              if TOPIC not in {_ref(a) for a in alarm["Properties"].get("AlarmActions", [])}]
    assert silent == [], f"add `AlarmActions: [!Ref {TOPIC}]` and `OKActions: [!Ref {TOPIC}]` to {silent}"


def test_ops_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_has_a_subscriber(cfn):
    topic = cfn["Resources"][TOPIC]["Properties"]
    key = cfn["Resources"][_ref(topic["KmsMasterKeyId"])]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
    subscriptions = [s for s in _of(cfn, "AWS::SNS::Subscription").values()
                     if _ref(s["Properties"]["TopicArn"]) == TOPIC]
    assert subscriptions


def test_every_function_logs_to_its_own_log_group_with_bounded_retention(cfn):
    groups = _of(cfn, "AWS::Logs::LogGroup")
    used: dict[str, str] = {}
    for name, fn in _of(cfn, "AWS::Lambda::Function").items():
        group = _ref((fn["Properties"].get("LoggingConfig") or {}).get("LogGroup"))
        hint = (f"add `{name}LogGroup: {{Type: AWS::Logs::LogGroup, DeletionPolicy: Retain, UpdateReplacePolicy: "
                f"Retain, Properties: {{RetentionInDays: !Ref LogRetentionDays}}}}` and "
                f"`LoggingConfig: {{LogGroup: !Ref {name}LogGroup}}` to {name}")
        assert group in groups, hint
        assert group not in used, f"{name} and {used.get(group)} share {group}: {hint}"
        used[group] = name
        props = groups[group]
        assert props["Properties"].get("RetentionInDays"), f"{group} needs RetentionInDays"
        assert props.get("DeletionPolicy") == "Retain" and props.get("UpdateReplacePolicy") == "Retain", group


def test_every_function_has_errors_and_throttles_alarms(cfn):
    for name in _of(cfn, "AWS::Lambda::Function"):
        for metric in ("Errors", "Throttles"):
            assert _alarms_on(cfn, metric, "FunctionName", name), (
                f"add `{name}{metric}Alarm` (AWS/Lambda {metric}, Dimensions [{{Name: FunctionName, Value: !Ref "
                f"{name}}}], Sum > 0 over 300 s, AlarmActions/OKActions [!Ref {TOPIC}]) like the other functions'")


def test_every_stream_mapping_has_an_iterator_age_alarm_and_every_consumed_queue_an_age_alarm(cfn):
    for name, mapping in _of(cfn, "AWS::Lambda::EventSourceMapping").items():
        props = mapping["Properties"]
        source = _ref(props["EventSourceArn"])
        function = _ref(props["FunctionName"])
        if cfn["Resources"][source]["Type"] == "AWS::DynamoDB::Table":
            assert _alarms_on(cfn, "IteratorAge", "FunctionName", function), (
                f"add an AWS/Lambda IteratorAge alarm (Maximum) for {function}, like RelayIteratorAgeAlarm")
        else:
            assert _alarms_on(cfn, "ApproximateAgeOfOldestMessage", "QueueName", source), (
                f"add an AWS/SQS ApproximateAgeOfOldestMessage alarm for {source}, like IntakeQueueAgeAlarm")


def test_api_has_5xx_latency_alarms_and_access_logs_without_raw_paths(template, cfn):
    metrics = {a["Properties"]["MetricName"] for a in _of(cfn, "AWS::CloudWatch::Alarm").values()
               if a["Properties"].get("Namespace") == "AWS/ApiGateway"}
    assert {"5XXError", "Latency"} <= metrics
    stages = _of(cfn, "AWS::ApiGateway::Stage")
    assert stages and all(s["Properties"]["StageName"] != "Stage" for s in stages.values()), \
        "SAM's implicit 'Stage' stage is back: keep `OpenApiVersion: \"3.0.1\"` under Globals: Api"
    for name, stage in stages.items():
        log_format = stage["Properties"]["AccessLogSetting"]["Format"]
        assert "$context.resourcePath" in log_format, name
        # $context.path and the query string carry tracking tokens; the auth header carries staff JWTs
        for leaky in ("$context.path", "querystring", "$context.authorizer", "$input"):
            assert leaky not in log_format, f"{name}'s access log format must not log {leaky}"


def test_stateful_resources_are_retained_and_deletion_protected(cfn):
    def retained(res):
        return res.get("DeletionPolicy") == "Retain" and res.get("UpdateReplacePolicy") == "Retain"

    hint = "add `DeletionPolicy: Retain` and `UpdateReplacePolicy: Retain` to"
    for name, table in _of(cfn, "AWS::DynamoDB::Table").items():
        assert retained(table), f"{hint} {name}"
        assert table["Properties"].get("DeletionProtectionEnabled") is True, \
            f"add `DeletionProtectionEnabled: true` to {name}'s Properties"
    pools = _of(cfn, "AWS::Cognito::UserPool")
    assert pools
    for name, pool in pools.items():
        assert retained(pool), f"{hint} {name}"
        assert pool["Properties"].get("DeletionProtection") == "ACTIVE", name
    assert retained(cfn["Resources"]["ReportsBucket"]), f"{hint} ReportsBucket"


def test_staff_must_use_mfa(cfn):
    for name, pool in _of(cfn, "AWS::Cognito::UserPool").items():
        assert pool["Properties"]["MfaConfiguration"] == "ON", name


def test_dead_letter_queues_keep_messages_longer_than_their_queues(cfn):
    queues = _of(cfn, "AWS::SQS::Queue")
    for name, queue in queues.items():
        policy = queue["Properties"].get("RedrivePolicy")
        if not policy:
            continue
        dlq = _ref(policy["deadLetterTargetArn"])
        kept = int(queue["Properties"].get("MessageRetentionPeriod", 345600))
        dlq_kept = int(queues[dlq]["Properties"].get("MessageRetentionPeriod", 345600))
        assert dlq_kept > kept, (f"{dlq} keeps messages {dlq_kept} s, not longer than {name}'s {kept} s: a message keeps "
                                 "its first enqueue time in the DLQ; set the DLQ to 1209600 and the queue shorter")


def test_functions_trace_only_with_a_tracer(cfn):
    from infra.template import list_functions

    active = {name for name, fn in _of(cfn, "AWS::Lambda::Function").items()
              if (fn["Properties"].get("TracingConfig") or {}).get("Mode") == "Active"}
    for spec in list_functions(cfn):
        if spec.logical_id in active and spec.code_uri and (ROOT / spec.code_uri).is_dir():
            assert "Tracer(" in spec.handler_path(ROOT).read_text(encoding="utf-8"), (
                f"{spec.logical_id} has Tracing: Active but no Powertools Tracer: add one or drop the tracing")


def test_sms_spend_alarm_counts_the_metric_the_notifier_emits(cfn):
    alarms = [a["Properties"] for a in _of(cfn, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "SmsSent"]
    assert alarms and alarms[0]["Namespace"] == "SOS1379"
    assert 'name="SmsSent"' in (ROOT / "functions" / "notify_sme" / "handler.py").read_text(encoding="utf-8")


def test_transformed_template_is_lint_clean_including_stateful_resource_policies(cfn):
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(include_checks=["I3011", "I3013"], regions=["ap-northeast-2"])
    found = [m for m in lint(json.dumps(cfn), regions=["ap-northeast-2"], config=config)
             if m.rule.id[0] in "EW" or m.rule.id in ("I3011", "I3013")]
    assert found == [], [f"{m.rule.id} {'/'.join(map(str, m.path[:3]))}: {m.message[:160]}" for m in found]


ACCOUNT_WIDE = ("AWSLambdaSQSQueueExecutionRole", "AWSLambdaDynamoDBExecutionRole", "AWSLambdaKinesisExecutionRole")


def test_no_function_can_read_every_queue_or_stream_of_the_account(cfn):
    for name, role in _of(cfn, "AWS::IAM::Role").items():
        arns = json.dumps(role["Properties"].get("ManagedPolicyArns", []))
        wide = [policy for policy in ACCOUNT_WIDE if policy in arns]
        assert not wide, (
            f"{name} carries {wide} (receive/delete on every queue or read on every stream of the account), which "
            "SAM adds for `Type: SQS` / `Type: DynamoDB` events: declare an AWS::Lambda::EventSourceMapping instead "
            "(like RouteCaseFunctionIntake) and grant sqs:ReceiveMessage, sqs:DeleteMessage, "
            "sqs:ChangeMessageVisibility, sqs:GetQueueAttributes on that queue only")


def test_stream_mappings_only_invoke_for_outbox_events(cfn):
    for name, mapping in _of(cfn, "AWS::Lambda::EventSourceMapping").items():
        props = mapping["Properties"]
        if cfn["Resources"][_ref(props["EventSourceArn"])]["Type"] != "AWS::DynamoDB::Table":
            continue
        patterns = [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])]
        assert patterns, f"{name} invokes its function for every table write: add FilterCriteria"
        assert all(p.get("dynamodb", {}).get("NewImage", {}).get("kind") == {"S": ["event"]} for p in patterns), name


def test_schedules_run_on_seoul_time_and_failed_runs_reach_a_dead_letter_queue(cfn):
    from infra.template import list_functions

    rules = [n for n, r in _of(cfn, "AWS::Events::Rule").items() if r["Properties"].get("ScheduleExpression")]
    assert rules == [], (f"{rules} are EventBridge rules (UTC only): use `Type: ScheduleV2` events with "
                         "`ScheduleExpressionTimezone: Asia/Seoul` and `DeadLetterConfig: {Arn: !GetAtt "
                         "ScheduledFailuresDLQ.Arn}`")
    for name, schedule in _of(cfn, "AWS::Scheduler::Schedule").items():
        props = schedule["Properties"]
        assert props.get("ScheduleExpressionTimezone") == "Asia/Seoul", f"{name}: add ScheduleExpressionTimezone: Asia/Seoul"
        assert (props["Target"].get("DeadLetterConfig") or {}).get("Arn"), f"{name}: add a DeadLetterConfig"
    destinations = {_ref(c["Properties"]["FunctionName"]): c["Properties"] for c in
                    _of(cfn, "AWS::Lambda::EventInvokeConfig").values()}
    for spec in list_functions(cfn):
        if spec.schedules:
            on_failure = ((destinations.get(spec.logical_id) or {}).get("DestinationConfig") or {}).get("OnFailure")
            assert on_failure and _ref(on_failure["Destination"]) == "ScheduledFailuresDLQ", (
                f"{spec.logical_id} runs on a schedule: add `EventInvokeConfig: {{MaximumRetryAttempts: 2, "
                "DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt ScheduledFailuresDLQ.Arn}}}`")


#: Parameters AWS deploys must set: a placeholder default would deploy a stack that fails later
#: (SMS into the DLQ, syncs failing every 15 minutes, links to nowhere).
REQUIRED = ("OpsAlarmEmail", "PublicBaseUrl", "NotifySenderEmail", "SmsOriginationIdentity", "CatalogSourceZeusUrl",
            "CatalogSourceNtisUrl", "CatalogSourcePatentsUrl", "CatalogSourceLibraryUrl")


def test_deploy_parameters_have_no_placeholder_defaults_and_the_local_stack_sets_each(template):
    from infra.localstack.stack import LOCAL_PARAMETERS

    params = template["Parameters"]
    assert [p for p in REQUIRED if "Default" in params[p]] == []
    missing = [name for name, spec in params.items() if "Default" not in spec and name not in LOCAL_PARAMETERS]
    assert missing == [], f"give {missing} a local value in infra/localstack/stack.py LOCAL_PARAMETERS"


def test_sender_domain_is_an_ses_identity_signed_with_dkim(template):
    identity = template["Resources"]["NotifySenderIdentity"]["Properties"]
    assert identity["EmailIdentity"] == {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "NotifySenderEmail"}]}]}
    assert identity["DkimSigningAttributes"]["NextSigningKeyLength"] == "RSA_2048_BIT"


def test_no_secret_reaches_a_function_environment_and_ssm_reads_are_scoped_to_their_parameters(template):
    """NoEcho parameters hide a value from CloudFormation only: in a function's environment anyone
    with lambda:GetFunctionConfiguration reads it. Secrets live in SSM SecureStrings whose *names*
    are parameters (``*Parameter``), read at run time (sos1379.runtime_secrets) with ssm:GetParameter on
    exactly those ARNs."""
    params = template["Parameters"]
    no_echo = {name for name, spec in params.items() if spec.get("NoEcho")}
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    env_sources = [template["Globals"]["Function"].get("Environment", {}).get("Variables", {})]
    env_sources += [(fn["Properties"].get("Environment") or {}).get("Variables", {}) for fn in functions.values()]
    # CoordinatorDevJwtSecret stays empty in AWS (local development tokens only, docs/coordinators.md)
    no_echo.discard("CoordinatorDevJwtSecret")
    leaked = sorted({name for env in env_sources for value in env.values() for name in no_echo
                     if f'"{name}"' in json.dumps(value)})
    assert leaked == [], f"NoEcho parameters in a function environment: {leaked}"
    for secret in ("CatalogSourceKeysParameter", "CompanyIndexKeyParameter", "NotifyProviderSecretParameter"):
        readers = [name for name, fn in functions.items()
                   if any(v == {"Ref": secret} for v in ((fn["Properties"].get("Environment") or {})
                                                          .get("Variables", {})).values())]
        assert readers, f"no function reads {secret}"
        for name in readers:
            statements = [s for p in functions[name]["Properties"].get("Policies", []) if isinstance(p, dict)
                          for s in p.get("Statement", [])]
            # one statement per secret (a function may read two, e.g. the API: company key, ZEUS key)
            grants = [s for s in statements if "ssm:GetParameter" in s["Action"] and secret in json.dumps(s["Resource"])]
            assert grants and all(s["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:"
                                                                  "${AWS::AccountId}:parameter${" + secret + "}"}
                                  for s in grants), (name, grants)
    all_grants = [s for fn in functions.values() for p in fn["Properties"].get("Policies", []) if isinstance(p, dict)
                  for s in p.get("Statement", []) if any(str(a).startswith("ssm:") for a in s["Action"])]
    assert all("*" not in json.dumps(s["Resource"]) for s in all_grants)
