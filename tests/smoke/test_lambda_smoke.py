"""Every function of template.yaml, from the built artefacts, in a clean Lambda-like Python.

What AWS would run, as close as this machine allows:

- the artefacts ``make package`` builds (``python -m infra.package build``): the dependencies
  layer from requirements.lock for the runtime's Python, the API folder, Kiwi's model;
- a fresh virtualenv of the runtime's Python (3.12 where the machine has it, else the nearest
  version; the test says which) holding only the SDK the Lambda runtime bundles
  (``RUNTIME_SDK``), nothing from the dev virtualenv; each function runs there with
  ``PYTHONPATH`` = its code folder and an ``opt/python`` folder laid out as Lambda extracts the
  layers; the project checkout is not on ``sys.path`` (the bootstrap checks ``moto``, ``pytest``
  and ``infra`` are not importable);
- against the local stack (``python -m infra.localstack`` with ``SOS1379_DISPATCH=0``: the
  resources, seeds and catalog stand-ins of template.yaml, no dispatcher), with real-shaped
  events: API Gateway REST proxy events for every route (public, institute with its key, staff
  with an RS256 token signed by a local JWKS, Cognito's claims), the stream records the case
  table really wrote, the SQS messages the relay really sent, scheduled events. Kiwi's model is
  read from S3 (the stack's bucket) as in Lambda.

A function added to template.yaml is covered without editing this file: it is started (its cold
start must succeed) and invoked by its event sources (schedule input or scheduled event, its
queue's messages, its table's stream records, API routes). ``make smoke`` runs only this file.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, ROOT

from infra.package import LAMBDA_PYTHON, LAMBDA_RUNTIME_SDK as RUNTIME_SDK  # noqa: E402 - one pin, documented there
PREFERRED = ("3.12", "3.13", "3.11")  # Lambda's version first, then the nearest ones
STAGE = "v1"
BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")

pytestmark = pytest.mark.timeout(1200)


# --------------------------------------------------------------------------- the runtime


def _runtime_python() -> tuple[str, str]:
    from infra.package import find_python

    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for version in PREFERRED:
        if version == current:
            return version, getattr(sys, "_base_executable", sys.executable)
        found = find_python(version)
        if found:
            return version, found
    return current, getattr(sys, "_base_executable", sys.executable)


def _run(cmd: list[str], **kwargs: Any) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                             f"{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def _build_runtime(tmp: Path, version: str, python: str) -> Path:
    """A virtualenv with no pip and no project packages, plus the runtime's bundled SDK."""
    venv = tmp / "runtime"
    _run([python, "-m", "venv", "--without-pip", str(venv)])
    site = venv / "lib" / f"python{version}" / "site-packages"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site), "--python-version", version,
          "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--implementation", "cp",
          *(f"{name}=={pin}" for name, pin in RUNTIME_SDK.items())])
    return venv / "bin" / "python"


def _lay_out_opt(tmp: Path, build: Path) -> Path:
    """/opt/python as Lambda extracts CoreLayer and DependenciesLayer (both put python/ there)."""
    opt = tmp / "opt" / "python"
    # CoreLayer's ContentUri is the compiled copy (build/core-layer), as `make package` leaves it
    shutil.copytree(build / "core-layer" / "python", opt)
    for entry in (build / "dependencies-layer" / "python").iterdir():
        if not (opt / entry.name).exists():
            (opt / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return opt


# --------------------------------------------------------------------------- staff tokens


class Jwks:
    """A local JWKS endpoint and an RSA key: tokens signed as Cognito signs them (RS256, kid)."""

    def __init__(self) -> None:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def token(self, *, issuer: str, client_id: str, group: str, username: str = "smoke-lead") -> str:
        import jwt

        now = int(time.time())
        claims = {"sub": str(uuid.uuid4()), "iss": issuer, "client_id": client_id, "token_use": "access",
                  "scope": "aws.cognito.signin.user.admin", "auth_time": now, "iat": now, "exp": now + 3600,
                  "jti": str(uuid.uuid4()), "username": username, "cognito:groups": [group]}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def close(self) -> None:
        self.server.shutdown()


# --------------------------------------------------------------------------- functions


class FunctionProcess:
    """One execution environment of one function: cold start once, then warm invocations."""

    def __init__(self, logical_id: str, python: Path, task: Path, opt: Path, env: dict[str, str], log: Path):
        self.logical_id = logical_id
        self.log = log
        self._log_file = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([str(python), str(task.parent.parent / "bootstrap" / BOOTSTRAP.name)],
                                     cwd=task, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log_file, text=True)
        self._init: dict[str, Any] | None = None
        self.invocations = 0
        self.durations_ms: list[int] = []

    @property
    def init(self) -> dict[str, Any]:
        """The cold start's report (environments start together; this waits for this one)."""
        if self._init is None:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"{self.logical_id}: the runtime exited at start:\n{self.tail()}")
            self._init = json.loads(line)
        return self._init

    def tail(self, lines: int = 30) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.init["ready"], self.init
        self.proc.stdin.write(json.dumps({"event": event}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"{self.logical_id}: the runtime died during an invocation:\n{self.tail()}")
        self.invocations += 1
        reply = json.loads(line)
        self.durations_ms.append(round(reply["duration_ms"]))
        assert reply["ok"], f"{self.logical_id} raised {reply['error']}\n{self.tail()}"
        return reply["response"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()


def rest_event(method: str, resource: str, path_params: dict[str, str] | None = None, *,
               query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
               body: Any = None, claims: dict[str, Any] | None = None) -> dict[str, Any]:
    """An API Gateway REST API (v1) Lambda proxy event, as the ``PublicApi`` stage sends it."""
    path = resource
    for name, value in (path_params or {}).items():
        path = path.replace("{" + name + "}", value)
    sent = {"Host": "abc123defg.execute-api.ap-northeast-2.amazonaws.com", "User-Agent": "smoke/1.0",
            "Accept": "application/json", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https", "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            **(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/json"
    now = datetime.now(timezone.utc)
    context: dict[str, Any] = {
        "resourceId": "a1b2c3", "resourcePath": resource, "httpMethod": method,
        "extendedRequestId": uuid.uuid4().hex[:16], "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": f"/{STAGE}{path}", "accountId": "123456789012", "protocol": "HTTP/1.1", "stage": STAGE,
        "domainPrefix": "abc123defg", "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": str(uuid.uuid4()), "domainName": sent["Host"], "apiId": "abc123defg",
        "identity": {"cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                     "sourceIp": "203.0.113.7", "principalOrgId": None, "accessKey": None,
                     "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
                     "userAgent": "smoke/1.0", "user": None},
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": sent,
        "multiValueHeaders": {k: [v] for k, v in sent.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params or None, "stageVariables": None, "requestContext": context,
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


# --------------------------------------------------------------------------- fixture


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from infra.template import list_functions, load_template, transform_template
    from tests.e2e.conftest import _stop, start_stack

    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    tmp = tmp_path_factory.mktemp("lambda-smoke")
    (tmp / "stack").mkdir()
    # the stack starts (a subprocess) while the artefacts build
    starting = ThreadPoolExecutor(max_workers=1).submit(start_stack, tmp / "stack",
                                                        extra_env={"SOS1379_DISPATCH": "0"})
    try:
        version, python = _runtime_python()
        build = tmp / "build"
        build_log = _run([sys.executable, "-m", "infra.package", "build", "--out", str(build),
                          "--python-version", version], cwd=ROOT)
        runtime = _build_runtime(tmp, version, python)
        opt = _lay_out_opt(tmp, build)
        (tmp / "bootstrap").mkdir()
        shutil.copy2(BOOTSTRAP, tmp / "bootstrap" / BOOTSTRAP.name)
        sam = load_template(ROOT / "template.yaml")
        specs = list_functions(transform_template(sam, base_dir=ROOT))
    except BaseException:
        with contextlib.suppress(Exception):
            _stop(starting.result().process)
        raise
    stack = starting.result()
    jwks = Jwks()
    processes: dict[str, FunctionProcess] = {}
    try:
        # Kiwi's model where `make deploy` puts it (upload-model), read by functions from S3.
        kiwi_uri = next((s for spec in specs for k, s in stack.function_env(spec.logical_id).items()
                         if k == "KIWI_MODEL_S3_URI"), "")
        if kiwi_uri.startswith("s3://"):
            bucket, _, prefix = kiwi_uri[5:].partition("/")
            for path in sorted((build / "kiwi-model").iterdir()):
                stack.client("s3").upload_file(str(path), bucket, prefix + path.name)

        def start(spec) -> FunctionProcess:
            code = spec.code_uri or "."
            source = build / code[len("build/"):] if code.startswith("build/") else ROOT / code
            task = tmp / "task" / spec.logical_id
            shutil.copytree(source, task, ignore=shutil.ignore_patterns("__pycache__"))
            scratch = tmp / "lambda-tmp" / spec.logical_id
            scratch.mkdir(parents=True)
            env = {**stack.function_env(spec.logical_id), **stack.state["aws_env"],
                   "_HANDLER": spec.handler, "AWS_LAMBDA_FUNCTION_NAME": f"sos1379-{spec.logical_id}",
                   "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                   "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}", "LAMBDA_TASK_ROOT": str(task),
                   "PYTHONPATH": os.pathsep.join([str(task), str(opt)]), "PYTHONDONTWRITEBYTECODE": "1",
                   "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
                   "TMPDIR": str(scratch), "KIWI_MODEL_DIR": str(scratch / "kiwi-model"),
                   "SMOKE_TIMEOUT": str(spec.timeout)}
            if spec.handler == "app.app":
                env["COORDINATOR_JWKS_URL"] = jwks.url
            return FunctionProcess(spec.logical_id, runtime, task, opt, env, tmp / f"{spec.logical_id}.log")

        yield {"version": version, "python": python, "build_log": build_log, "sam": sam, "specs": specs,
               "stack": stack, "jwks": jwks, "processes": processes, "start": start, "started": started,
               "runtime": runtime, "opt": opt, "build": build}
    finally:
        for process in processes.values():
            process.close()
        jwks.close()
        _stop(stack.process)


# --------------------------------------------------------------------------- the run


def _status(response: dict[str, Any]) -> int:
    assert isinstance(response.get("statusCode"), int) and isinstance(response.get("headers"), dict), response
    return response["statusCode"]


def _body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def _api_routes(sam: dict[str, Any], logical_id: str) -> list[tuple[str, str, bool]]:
    events = (sam["Resources"][logical_id]["Properties"].get("Events") or {}).values()
    return [(e["Properties"]["Path"], e["Properties"]["Method"].upper(), "Auth" in e["Properties"])
            for e in events if e.get("Type") == "Api"]


class ApiSweep:
    """Every route once (the main ones with their expected answers); no route answers 5xx."""

    def __init__(self, fn: FunctionProcess, smoke: dict[str, Any], spec) -> None:
        env = smoke["stack"].function_env(spec.logical_id)
        # COORDINATOR_JWT_AUDIENCE lists the app clients (comma-separated): the first one signs in
        client_id = env["COORDINATOR_JWT_AUDIENCE"].split(",")[0].strip()
        staff = smoke["jwks"].token(issuer=env["COORDINATOR_JWT_ISSUER"], client_id=client_id, group="lead")
        self.fn, self.smoke, self.spec = fn, smoke, spec
        self.bearer = {"Authorization": f"Bearer {staff}"}
        self.claims = {"cognito:groups": "lead", "token_use": "access"}  # what the authorizer adds
        self.key = {"X-Api-Key": "dev-KITECH-key"}  # the local stack seeds dev-<CODE>-key
        self.statuses: dict[str, int] = {}
        self.case_id = self.token = ""

    def call(self, method: str, resource: str, params: dict[str, str] | None = None, **kwargs: Any) -> dict:
        response = self.fn.invoke(rest_event(method, resource, params, **kwargs))
        self.statuses[f"{method} {resource}"] = _status(response)
        return response

    def submit(self) -> None:
        submitted = self.call("POST", "/cases", body=json.loads((EVENTS / "cases" / "weld_crack_ko.json").read_text()))
        assert _status(submitted) == 201, submitted
        case = _body(submitted)
        self.case_id, self.token = case["case_id"], case["tracking_token"]

    def reads(self) -> None:
        call, case = self.call, {"case_id": self.case_id}
        assert _status(call("GET", "/cases/{case_id}", case, query={"token": self.token})) == 200
        assert _status(self.fn.invoke(rest_event("GET", "/cases/{case_id}", case))) == 404
        for path in ("/health", "/services", "/institutes", "/openapi.json", "/", "/track"):
            assert _status(call("GET", path)) == 200, path
        assert _status(call("GET", "/static/{name}", {"name": "app.js"})) == 200
        assert _status(call("GET", "/catalog/search", query={"q": "용접 균열"})) == 200
        assert _status(call("GET", "/institute/referrals", headers=self.key)) == 200
        assert _status(self.fn.invoke(rest_event("GET", "/institute/referrals"))) == 401
        # staff routes: the RS256 token verified against the JWKS, as Cognito's would be in AWS
        queue = call("GET", "/coordinator/queue", headers=self.bearer, claims=self.claims)
        assert _status(queue) == 200, queue
        assert _status(call("GET", "/coordinator/cases/{case_id}", case, headers=self.bearer,
                            claims=self.claims)) == 200
        assert _status(call("GET", "/stats", headers=self.bearer, claims=self.claims)) == 200
        assert _status(self.fn.invoke(rest_event("GET", "/coordinator/queue"))) == 401

    def everything_else(self) -> None:
        """Every other route once, with plausible parameters: a 4xx is an answer, a 5xx a defect."""
        for path, method, staff_route in _api_routes(self.smoke["sam"], self.spec.logical_id):
            if f"{method} {path}" in self.statuses:
                continue
            params = {name.strip("{}+"): (self.case_id if "case" in name else "smoke")
                      for name in path.split("/") if name.startswith("{")}
            headers = dict(self.bearer) if staff_route or path.startswith("/coordinator") else {}
            if path.startswith("/institute"):
                headers.update(self.key)
            if path.startswith("/cases/"):
                headers["X-Tracking-Token"] = self.token
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = self.call(method, path, params, headers=headers, body=body,
                                 claims=self.claims if staff_route else None)
            assert _status(response) < 500, (method, path, response)


def _stream_records(stack, table: str) -> list[dict[str, Any]]:
    from infra.localstack.events import stream_record

    arn = stack.state["resources"][table]["stream_arn"]
    streams = stack.client("dynamodbstreams")
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [stream_record(r, stream_arn=arn, region=stack.region) for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


def _queue_messages(stack, queue: str) -> list[dict[str, Any]]:
    from infra.localstack.events import sqs_record

    info = stack.state["resources"][queue]
    messages = stack.client("sqs").receive_message(
        QueueUrl=info["url"], MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"],
        MessageAttributeNames=["All"]).get("Messages", [])
    return [sqs_record(m, queue_arn=info["arn"], region=stack.region) for m in messages]


def _no_batch_failures(name: str, response: Any) -> None:
    failures = (response or {}).get("batchItemFailures") if isinstance(response, dict) else None
    assert not failures, f"{name} reported failed items: {failures}"


def test_every_handler_runs_from_the_built_artefacts_in_a_clean_lambda_runtime(smoke):
    from infra.localstack.dispatcher import EventFilter
    from infra.localstack.events import scheduled_event

    stack, specs, processes = smoke["stack"], smoke["specs"], smoke["processes"]
    phases = {"ready": time.perf_counter()}
    for spec in specs:
        processes[spec.logical_id] = smoke["start"](spec)
    for spec in specs:
        init = processes[spec.logical_id].init
        assert init["ready"], f"{spec.logical_id} failed its cold start: {init['error']}\n" \
                              f"{processes[spec.logical_id].tail()}"
    invoked: dict[str, str] = {}
    now = datetime.now(timezone.utc)

    # 1. schedules first (the catalog sync publishes the index the API and the router read)
    for spec in specs:
        for source in spec.schedules[:1]:
            event = source.input if source.input is not None else scheduled_event(
                rule_arn=f"arn:aws:events:{stack.region}:{stack.state['account']}:rule/{source.logical_id}",
                region=stack.region, account=stack.state["account"], now=now)
            response = processes[spec.logical_id].invoke(event)
            invoked[spec.logical_id] = f"schedule {source.logical_id}"
            if spec.logical_id == "SyncCatalogFunction":
                # the source's API key comes from SSM (CATALOG_SOURCE_KEYS_PARAMETER), not the
                # environment: a missing or wrong key fails the sync at the stand-in
                assert response.get("status") != "failed", response
                assert not any(k.endswith("_KEY") for k in stack.function_env(spec.logical_id)), \
                    "a secret in the function's environment"
    phases["schedules"] = time.perf_counter()

    # 2. the API: a case submitted, then the main reads (public, institute, staff)
    sweeps = [ApiSweep(processes[s.logical_id], smoke, s) for s in specs
              if s.handler == "app.app" or _api_routes(smoke["sam"], s.logical_id)]
    for sweep in sweeps:
        if sweep.spec.handler == "app.app":
            sweep.submit()
        sweep.reads()
    phases["api"] = time.perf_counter()

    # 3. stream records the case table really wrote -> the relay
    for spec in specs:
        for source in spec.streams:
            # Lambda applies the mapping's FilterCriteria before invoking (the dispatcher's filter)
            matching = EventFilter(source.filter_patterns)
            records = [r for r in _stream_records(stack, source.table) if matching.matches(r)]
            assert records, f"no (matching) stream records on {source.table} for {spec.logical_id}"
            _no_batch_failures(spec.logical_id, processes[spec.logical_id].invoke({"Records": records}))
            invoked[spec.logical_id] = f"{len(records)} stream records"
    phases["streams"] = time.perf_counter()

    # 4. the queues the relay really filled -> their consumers
    for spec in specs:
        for source in spec.sqs:
            matching = EventFilter(source.filter_patterns)
            records = [r for r in _queue_messages(stack, source.queue) if matching.matches(r)]
            if spec.logical_id in ("RouteCaseFunction", "NotifySmeFunction"):
                assert records, f"the relay sent nothing to {source.queue}"
            if records:
                _no_batch_failures(spec.logical_id, processes[spec.logical_id].invoke({"Records": records}))
                invoked[spec.logical_id] = f"{len(records)} messages from {source.queue}"
    phases["queues"] = time.perf_counter()

    # 5. every other route (some change the case: after the pipeline ran)
    statuses: dict[str, int] = {}
    for sweep in sweeps:
        sweep.everything_else()
        statuses.update(sweep.statuses)
        invoked[sweep.spec.logical_id] = f"{len(sweep.statuses)} API routes"
    phases["api_rest"] = time.perf_counter()

    referrals = [lid for lid, res in stack.state["resources"].items() if lid.startswith("ReferralQueue")
                 and int(stack.client("sqs").get_queue_attributes(
                     QueueUrl=res["url"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                     "ApproximateNumberOfMessages"])]
    summary = {
        "python": smoke["version"], "interpreter": smoke["python"],
        "lambda_python": LAMBDA_PYTHON, "faithful_version": smoke["version"] == LAMBDA_PYTHON,
        "runtime_sdk": RUNTIME_SDK, "functions": len(specs), "invoked": invoked,
        "invocations": sum(p.invocations for p in processes.values()), "api_statuses": statuses,
        "cold_start_ms": {k: round(p.init["init_ms"]) for k, p in processes.items()},
        "durations_ms": {k: p.durations_ms for k, p in processes.items()},
        "phases_s": {"setup": round(phases["ready"] - smoke["started"], 1),
                     **{k: round(v - prev, 1) for (k, v), prev in zip(list(phases.items())[1:], phases.values())}},
        "referral_queues_with_messages": referrals, "seconds": round(time.perf_counter() - smoke["started"], 1),
    }
    out = ROOT / "artifacts" / "smoke"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nsmoke: Python {smoke['version']} ({smoke['python']}; Lambda runs {LAMBDA_PYTHON}), "
          f"boto3 {RUNTIME_SDK['boto3']}: {len(invoked)}/{len(specs)} functions invoked, "
          f"{summary['invocations']} invocations, {summary['seconds']} s")
    not_invoked = sorted({s.logical_id for s in specs} - set(invoked))
    # A function without an event source here was still cold-started above; say so.
    for lid in not_invoked:
        print(f"smoke: {lid} has no schedule, stream, queue message or API route here: cold start only")
    assert {"ApiFunction", "RelayOutboxFunction", "RouteCaseFunction", "NotifySmeFunction",
            "SyncCatalogFunction", "FlagSlaBreachesFunction", "MonthlyReportFunction"} <= set(invoked)


def test_runtime_sees_only_the_layers_the_function_and_the_lambda_sdk(smoke):
    processes = smoke["processes"] or {}
    spec = next(s for s in smoke["specs"] if s.handler == "app.app")
    process = processes.get(spec.logical_id) or smoke["start"](spec)
    processes.setdefault(spec.logical_id, process)
    init = process.init
    assert init["dev_modules_importable"] == {"moto": False, "pytest": False, "infra": False}
    assert init["boto3"] == RUNTIME_SDK["boto3"] and init["botocore"] == RUNTIME_SDK["botocore"]
    assert init["python"].startswith(smoke["version"])
    checkout = [p for p in init["sys_path"] if p.startswith(str(ROOT)) or ".venv" in p]
    assert checkout == [], f"the project checkout or the dev venv is on sys.path: {checkout}"
    # the layers ship bytecode for the runtime's Python (when the machine has that Python)
    tag = "cpython-" + smoke["version"].replace(".", "")
    assert any((smoke["build"] / "dependencies-layer" / "python" / "pydantic" / "__pycache__").glob(f"*.{tag}.pyc"))


def test_core_layer_ships_bytecode_so_cold_starts_compile_nothing(smoke):
    from infra.package import missing_bytecode

    assert missing_bytecode(smoke["build"] / "core-layer" / "python", smoke["version"]) == []
    processes = smoke["processes"] or {}
    for spec in smoke["specs"]:
        process = processes.get(spec.logical_id) or smoke["start"](spec)
        processes.setdefault(spec.logical_id, process)
        assert process.init["compiled_at_start"] == [], (spec.logical_id, process.init["compiled_at_start"])
