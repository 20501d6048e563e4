"""The local stack: moto server + resources from template.yaml + dispatcher + seeds + API.

``LocalStack(StackOptions.from_env()).start()`` does, in order:

1. start ``moto.server.ThreadedMotoServer`` on 127.0.0.1:MOTO_PORT (in this process), recording
   the SMS and e-mail it accepts (:mod:`infra.localstack.sent`);
2. start extra local services (the catalog stand-ins, when ``infra.standins`` is importable);
3. transform template.yaml offline (samtranslator) and deploy it into moto's CloudFormation;
4. read the physical ids, resolve every function's environment, create what moto's
   CloudFormation skips (schedules, alarms), detach moto's own Lambda triggers;
5. start the dispatcher (SQS and stream mappings, schedules) over per-function worker processes;
6. run the seeds of :mod:`infra.seeds`;
7. serve the Chalice app on 127.0.0.1:API_PORT with the API function's environment;
8. write ``.local/stack.json``.

``stop()`` undoes it in reverse order.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infra.localstack.deploy import DeployedStack, deploy_stack
from infra.localstack.dispatcher import Dispatcher, ScheduleEntry, SqsMapping, StreamMapping, Wakeup
from infra.localstack.runtime import FunctionConfig, WorkerPool
from infra.localstack.schedule import Schedule
from infra.localstack.sent import PATH as SENT_PATH
from infra.localstack.sent import SentMessages, recording, serve_sent_messages
from infra.localstack.seeding import SeedContext, run_seeds
from infra.localstack.state import remove_stack_state, write_stack_state
from infra.template import DEFAULT_REGION, DEFAULT_TEMPLATE, REPO_ROOT, FunctionSpec, load_template, transform_template

log = logging.getLogger("localstack")

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
#: Variables of the launching shell that reach the function workers (everything else is dropped,
#: as a Lambda function does not see your shell).
PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH",
                "SYSTEMROOT", "KIWI_MODEL_PATH")


#: Values of template parameters that AWS deploys must set (no defaults there) and the local stack
#: sets itself; the catalog URLs come from the stand-ins, PublicBaseUrl from the API's address.
LOCAL_PARAMETERS: dict[str, str] = {
    "OpsAlarmEmail": "ops@sos1379.local",
    "PublicBaseUrl": "http://127.0.0.1:8000",
    "NotifySenderEmail": "no-reply@sos1379.example.kr",
    "SmsOriginationIdentity": "",  # empty: SMS through moto's SNS (docs/notifications.md)
    # unreachable until the stand-ins (started by default) replace them
    "CatalogSourceZeusUrl": "http://127.0.0.1:9/zeus",
    "CatalogSourceNtisUrl": "http://127.0.0.1:9/ntis",
    "CatalogSourcePatentsUrl": "http://127.0.0.1:9/patents",
    "CatalogSourceLibraryUrl": "http://127.0.0.1:9/library",
}


class StackError(RuntimeError):
    pass


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name} must be an integer, got {raw!r}") from None


@dataclass
class StackOptions:
    template: Path = DEFAULT_TEMPLATE
    code_root: Path | None = None  # where CodeUri folders are; default: the template's folder
    host: str = "127.0.0.1"
    api_port: int = 8000
    moto_port: int = 5000
    region: str = DEFAULT_REGION
    stack_name: str = "sos1379-local"
    state_dir: Path | None = None
    serve_api: bool = True
    seed: bool = True
    seed_package: str = "infra.seeds"
    start_services: bool = True
    standin_scale: str = "small"
    parameters: dict[str, Any] = field(default_factory=dict)
    retry_visibility: int | None = None  # seconds; None keeps the queue's visibility timeout
    function_concurrency: int = 2
    poll_wait: int = 10  # SQS long poll (s): a send wakes it at once; idle pollers ask moto rarely
    prewarm: bool = False
    dispatch: bool = True  # False: no dispatcher or workers (the smoke test invokes handlers itself)
    apply_env: bool = True  # point this process (API, seeds) at the stack
    write_state: bool = True

    @classmethod
    def from_env(cls, **overrides: Any) -> "StackOptions":
        """Options from API_PORT, MOTO_PORT, SOS1379_STATE_DIR, SOS1379_TEMPLATE,
        SOS1379_RETRY_VISIBILITY, SOS1379_FUNCTION_CONCURRENCY, SOS1379_STANDIN_SCALE."""
        options = cls(
            api_port=_env_int("API_PORT", 8000),
            moto_port=_env_int("MOTO_PORT", 5000),
            state_dir=Path(os.environ["SOS1379_STATE_DIR"]) if os.environ.get("SOS1379_STATE_DIR") else None,
            template=Path(os.environ.get("SOS1379_TEMPLATE") or DEFAULT_TEMPLATE),
            retry_visibility=_env_int("SOS1379_RETRY_VISIBILITY", -1),
            function_concurrency=_env_int("SOS1379_FUNCTION_CONCURRENCY", 2),
            standin_scale=os.environ.get("SOS1379_STANDIN_SCALE") or "small",
            dispatch=os.environ.get("SOS1379_DISPATCH", "1") != "0",
        )
        if options.retry_visibility is not None and options.retry_visibility < 0:
            options.retry_visibility = None
        for key, value in overrides.items():
            if value is not None:
                setattr(options, key, value)
        return options


def _reserve_port(host: str) -> Any:
    """A socket bound to a free port, kept until the API serves on it: picking a number and
    binding it a deploy later (tens of seconds) lets an outgoing connection or another test take
    it meanwhile."""
    import socket

    reserved = socket.socket()
    reserved.bind((host, 0))
    return reserved


def _check_port_free(host: str, port: int, variable: str) -> None:
    """Fail in a second rather than after the deploy when the port is taken."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StackError(f"port {host}:{port} is taken ({exc.strerror}); set {variable} to a free port") from None


def _normalise(name: str) -> str:
    return name.replace("_", "").lower()


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.code_root = Path(options.code_root or Path(options.template).resolve().parent)
        self.moto: Any = None
        self._moto_patches = contextlib.ExitStack()
        self.stream_wakeup = Wakeup()
        self.sent = SentMessages()  # what moto's SNS and SES accepted, served at sent.PATH
        self.moto_url = ""
        self.api: Any = None
        self.dispatcher: Dispatcher | None = None
        self.pool: WorkerPool | None = None
        self.deployed: DeployedStack | None = None
        self.functions: dict[str, FunctionConfig] = {}
        self.services: list[Any] = []
        self.service_env: dict[str, str] = {}
        self.state: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._session: Any = None
        self._started = 0.0
        self._api_socket: Any = None  # the API's port, bound before the deploy when API_PORT=0

    # ------------------------------------------------------------------ clients

    @property
    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_DEFAULT_REGION": self.options.region,
            "AWS_REGION": self.options.region,
            **FAKE_CREDENTIALS,
        }

    def client(self, service: str) -> Any:
        """A boto3 client bound to this stack's moto (explicit endpoint: no global env needed)."""
        with self._clients_lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                if self._session is None:
                    self._session = boto3.session.Session(
                        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                        region_name=self.options.region,
                    )
                self._clients[service] = self._session.client(
                    service, endpoint_url=self.moto_url,
                    config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=50,
                                  read_timeout=30),
                )
            return self._clients[service]

    def resource(self, service: str) -> Any:
        self.client(service)  # makes the session
        return self._session.resource(service, endpoint_url=self.moto_url)

    # ------------------------------------------------------------------ steps

    def _mark(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = round(now - since, 3)
        return now

    def _start_moto(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer

        from infra.localstack.motofast import moto_fixes, stream_wakeups

        # DynamoDB's atomicity under concurrent requests (see motofast), for as long as moto runs
        self._moto_patches.enter_context(moto_fixes())
        # a stream write wakes the stream pollers (no short polling while the stack is idle)
        self._moto_patches.enter_context(stream_wakeups(self.stream_wakeup.notify))
        self._moto_patches.enter_context(recording(self.sent))
        self.moto = ThreadedMotoServer(ip_address=self.options.host, port=self.options.moto_port, verbose=False)
        try:
            self.moto.start()
        except OSError as exc:
            raise StackError(f"cannot start moto on {self.options.host}:{self.options.moto_port}: {exc} "
                             "(set MOTO_PORT to a free port)") from exc
        serve_sent_messages(self.moto, self.sent)
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"

    def _start_services(self) -> None:
        if not self.options.start_services:
            return
        try:
            from infra.standins import start_standins
        except ImportError:
            return
        handle = start_standins(self.options.standin_scale, port=0)
        self.services.append(handle)
        self.service_env.update(handle.env() if hasattr(handle, "env") else
                                {f"{k.upper()}_URL": v for k, v in handle.urls.items()})
        # the domestic AlimTalk/SMS provider (NOTIFY_PROVIDER_URL -> NotifyProviderUrl)
        from infra.standins.messaging import start_messaging_standin

        messaging = start_messaging_standin()
        self.services.append(messaging)
        self.service_env.update(messaging.env())
        log.info("services.started", extra={"fields": {"standins": handle.urls, "scale": self.options.standin_scale}})

    def _start_attachment_events(self) -> None:
        """S3's "Object Created" notifications and GuardDuty's malware scan, which moto lacks, from
        the stand-in (infra/standins/malware_scan.py) into AttachmentEventsQueue."""
        assert self.deployed is not None
        bucket = self.deployed.physical_id("AttachmentsBucket")
        queue_url = self.deployed.physical_id("AttachmentEventsQueue")
        if not bucket or not queue_url:
            return
        from infra.localstack.motofast import s3_object_writes
        from infra.standins.malware_scan import MalwareScanStandin

        uploaded = threading.Event()
        self._moto_patches.enter_context(s3_object_writes(uploaded.set))
        self.services.append(MalwareScanStandin(self.client("s3"), self.client("sqs"), bucket, queue_url,
                                                region=self.options.region, account=self.deployed.account,
                                                wakeup=uploaded).start())

    def _parameters(self, sam: dict[str, Any]) -> dict[str, Any]:
        declared = sam.get("Parameters") or {}
        by_norm = {_normalise(name): name for name in declared}
        values: dict[str, Any] = {k: v for k, v in LOCAL_PARAMETERS.items() if k in declared}
        for key, value in self.service_env.items():
            if _normalise(key) in by_norm:
                values[by_norm[_normalise(key)]] = value
        if "PublicBaseUrl" in declared and self.options.serve_api:
            values["PublicBaseUrl"] = f"http://{self.options.host}:{self.options.api_port or 8000}"
        values.update(self.options.parameters)
        return values

    def _layer_source(self, content_uri: str) -> Path:
        """A layer's folder for the local workers: CoreLayer's ContentUri is the compiled copy
        `make package` writes to build/core-layer (stale, or absent, between builds); the local
        stack always runs the sources it was built from (layers/core)."""
        from infra.package import CORE_LAYER_BUILD

        path = self.code_root / content_uri
        if Path(str(content_uri).rstrip("/")).parts == ("build", CORE_LAYER_BUILD):
            return self.code_root / "layers" / "core"
        return path

    def _code_dir(self, spec: FunctionSpec) -> Path:
        """The folder holding the handler: CodeUri, or the repository root when CodeUri is a build
        output that does not exist before `make package` (ApiFunction's build/api/)."""
        first = self.code_root / (spec.code_uri or ".")
        if spec.handler_path(self.code_root).exists() or not (self.code_root / f"{spec.handler_module}.py").exists():
            return first
        return self.code_root

    def _function_configs(self, deployed: DeployedStack) -> dict[str, FunctionConfig]:
        configs = {}
        for spec in deployed.functions:
            if spec.logical_id not in deployed.function_names:
                continue
            env = dict(deployed.function_env.get(spec.logical_id, {}))
            for key, value in self.service_env.items():
                if key in env:
                    env[key] = value
            layers = [self._layer_source(layer) / "python" for layer in spec.layers]
            # A pip-built dependencies layer (build/...) holds wheels for Lambda's Python; the
            # virtualenv already provides the same packages for this interpreter.
            layers = [p for p in layers if p.is_dir() and not any(p.glob("*.dist-info"))]
            concurrency = self.options.function_concurrency
            if spec.reserved_concurrency:
                concurrency = min(concurrency, spec.reserved_concurrency)
            configs[spec.logical_id] = FunctionConfig(
                logical_id=spec.logical_id,
                physical_name=deployed.function_names[spec.logical_id],
                code_dir=self._code_dir(spec),
                handler=spec.handler,
                env=env,
                timeout=float(spec.timeout),
                memory=spec.memory_size,
                layer_dirs=[p for p in layers if p.is_dir()],
                concurrency=max(1, concurrency),
            )
        return configs

    def _queue_url_for_arn(self, arn: str) -> str | None:
        assert self.deployed is not None
        for res in self.deployed.resources.values():
            if res.type == "AWS::SQS::Queue" and res.physical_id and res.physical_id.rsplit("/", 1)[-1] == arn.rsplit(":", 1)[-1]:
                return res.physical_id
        return None

    def _mappings(self) -> tuple[list[SqsMapping], list[StreamMapping], list[ScheduleEntry]]:
        deployed = self.deployed
        assert deployed is not None and deployed.resolver is not None
        resolver = deployed.resolver
        sqs, streams, schedules = [], [], []
        now = datetime.now(timezone.utc)
        for spec in deployed.functions:
            fn = self.functions.get(spec.logical_id)
            if fn is None:
                continue
            for source in spec.sqs:
                limit = source.maximum_concurrency or fn.concurrency
                sqs.append(SqsMapping(spec.logical_id, source, deployed.physical_id(source.queue) or "",
                                      resolver.get_att(source.queue, "Arn"), concurrency=min(limit, fn.concurrency)))
            for source in spec.streams:
                on_failure = None
                if source.on_failure is not None:
                    target = resolver.resolve(source.on_failure)
                    if isinstance(target, str) and target.startswith("arn:aws:sqs:"):
                        on_failure = self._queue_url_for_arn(target)
                streams.append(StreamMapping(spec.logical_id, source, resolver.get_att(source.table, "StreamArn"),
                                             on_failure_queue_url=on_failure))
            for source in spec.schedules:
                if source.kind == "events" and deployed.physical_id(source.logical_id):
                    rule_arn = resolver.get_att(source.logical_id, "Arn")
                else:
                    name = deployed.physical_id(source.logical_id) or source.logical_id
                    rule_arn = f"arn:aws:scheduler:{deployed.region}:{deployed.account}:schedule/default/{name}"
                schedules.append(ScheduleEntry(spec.logical_id, source, Schedule.parse(source.expression, source.timezone),
                                               rule_arn, created=now, max_retries=spec.maximum_retry_attempts))
        return sqs, streams, schedules

    def _api_function(self) -> FunctionSpec | None:
        assert self.deployed is not None
        for spec in self.deployed.functions:
            if spec.handler == "app.app":
                return spec
        return None

    def _merged_env(self, api: FunctionSpec | None) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, fn in self.functions.items():
            for key, value in fn.env.items():
                merged.setdefault(key, value)
        if api is not None and api.logical_id in self.functions:
            merged.update(self.functions[api.logical_id].env)
        return merged

    def _resources_state(self) -> dict[str, dict[str, Any]]:
        assert self.deployed is not None and self.deployed.resolver is not None
        resolver = self.deployed.resolver
        out: dict[str, dict[str, Any]] = {}
        for lid, res in self.deployed.resources.items():
            entry: dict[str, Any] = {"type": res.type, "physical_id": res.physical_id}
            try:
                if res.type == "AWS::SQS::Queue" and res.physical_id:
                    entry.update(url=res.physical_id, arn=resolver.get_att(lid, "Arn"),
                                 name=resolver.get_att(lid, "QueueName"))
                elif res.type == "AWS::DynamoDB::Table" and res.physical_id:
                    entry.update(name=res.physical_id, arn=resolver.get_att(lid, "Arn"))
                    try:
                        entry["stream_arn"] = resolver.get_att(lid, "StreamArn")
                    except KeyError:
                        pass
                elif res.type == "AWS::Lambda::Function" and res.physical_id:
                    entry.update(name=res.physical_id, arn=resolver.get_att(lid, "Arn"))
            except Exception:  # noqa: BLE001 - the state file is best effort per resource
                pass
            out[lid] = entry
        return out

    def _functions_state(self) -> dict[str, dict[str, Any]]:
        assert self.deployed is not None
        out = {}
        for spec in self.deployed.functions:
            fn = self.functions.get(spec.logical_id)
            if fn is None:
                continue
            out[spec.logical_id] = {
                "name": fn.physical_name,
                "handler": spec.handler,
                "code_uri": spec.code_uri,
                "code_dir": str(fn.code_dir),
                "timeout": spec.timeout,
                "env": fn.env,
                "sqs": [{"mapping": s.logical_id, "queue": s.queue, "batch_size": s.batch_size,
                         "report_batch_item_failures": s.report_batch_item_failures} for s in spec.sqs],
                "streams": [{"mapping": s.logical_id, "table": s.table, "batch_size": s.batch_size,
                             "starting_position": s.starting_position} for s in spec.streams],
                "schedules": [{"id": s.logical_id, "expression": s.expression, "timezone": s.timezone,
                               "input": s.input} for s in spec.schedules],
            }
        return out

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "LocalStack":
        self._started = t = time.perf_counter()
        if self.options.moto_port:
            # moto's server thread dies on a taken port and its start() then waits forever
            _check_port_free(self.options.host, self.options.moto_port, "MOTO_PORT")
        if self.options.serve_api and self.options.api_port == 0:
            # Bind the port now: the template's PublicBaseUrl and the state need it before the
            # API serves.
            self._api_socket = _reserve_port(self.options.host)
            self.options.api_port = self._api_socket.getsockname()[1]
        elif self.options.serve_api:
            _check_port_free(self.options.host, self.options.api_port, "API_PORT")
        try:
            self._start_moto()
            t = self._mark("moto", t)
            self._start_services()
            t = self._mark("services", t)

            sam = load_template(self.options.template)
            cfn = transform_template(sam, region=self.options.region, parameter_values=self._parameters(sam),
                                     base_dir=Path(self.options.template).resolve().parent)
            t = self._mark("transform", t)
            self.deployed = deploy_stack(cfn, client=self.client, region=self.options.region,
                                         stack_name=self.options.stack_name, parameters=self._parameters(sam),
                                         sam=sam)
            t = self._mark("deploy", t)
            self.timings["deploy_detail"] = self.deployed.timings  # type: ignore[assignment]
            log.info("stack.deployed", extra={"fields": {
                "resources": len(self.deployed.resources), "functions": len(self.deployed.functions),
                "created_locally": sorted(self.deployed.created_locally),
                "skipped": self.deployed.skipped or None}})

            self.functions = self._function_configs(self.deployed)
            api_spec = self._api_function()
            merged_env = self._merged_env(api_spec)
            if self.options.apply_env:
                os.environ.update(self.aws_env)
                os.environ.update(merged_env)
                from sos1379.settings import get_settings

                get_settings.cache_clear()  # the deploy read them (data paths) before the API's variables were set
            base_env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
            base_env.update({k: v for k, v in os.environ.items() if k.startswith("SOS1379_")})
            base_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), base_env.get("PYTHONPATH")]))
            base_env.update(self.aws_env)
            dispatched = {k: v for k, v in self.functions.items() if api_spec is None or k != api_spec.logical_id}
            sqs, streams, schedules = self._mappings()
            if self.options.dispatch:
                self.pool = WorkerPool(dispatched, base_env=base_env, region=self.options.region,
                                       account=self.deployed.account)
                self.dispatcher = Dispatcher(invoker=self.pool, sqs=self.client("sqs"),
                                             streams=self.client("dynamodbstreams"),
                                             region=self.options.region, account=self.deployed.account,
                                             sqs_mappings=sqs, stream_mappings=streams, schedules=schedules,
                                             retry_visibility=self.options.retry_visibility,
                                             poll_wait=self.options.poll_wait, stream_wakeup=self.stream_wakeup)
                self.dispatcher.start()
                self._start_attachment_events()
            if self.options.prewarm and self.pool is not None:
                for name in dispatched:
                    threading.Thread(target=self.pool.prewarm, args=(name,), daemon=True).start()
            t = self._mark("dispatcher", t)
            log.info("dispatcher.started", extra={"fields": {
                "sqs_mappings": len(sqs), "stream_mappings": len(streams), "schedules": len(schedules)}})

            resources_state = self._resources_state()
            functions_state = self._functions_state()
            if self.options.seed:
                context = SeedContext(region=self.options.region, endpoint_url=self.moto_url,
                                      resources=resources_state, env=merged_env, functions=functions_state,
                                      client_factory=self.client, resource_factory=self.resource)
                self.timings["seeds_detail"] = run_seeds(context, self.options.seed_package)  # type: ignore[assignment]
            t = self._mark("seeds", t)

            api_url = None
            if self.options.serve_api and api_spec is not None:
                from infra.localstack.api import ApiServer, load_chalice_app

                fn = self.functions[api_spec.logical_id]
                app = load_chalice_app(fn.code_dir, api_spec.handler_module, api_spec.handler_function)
                try:
                    reserved, self._api_socket = self._api_socket, None
                    self.api = ApiServer(app, host=self.options.host, port=self.options.api_port, sock=reserved,
                                         timeout=int(fn.timeout), memory=fn.memory, function_name=fn.physical_name)
                except OSError as exc:
                    raise StackError(f"cannot serve the API on {self.options.host}:{self.options.api_port}: {exc} "
                                     "(set API_PORT to a free port)") from exc
                self.api.start()
                api_url = self.api.url
            t = self._mark("api", t)

            ready = round(time.perf_counter() - self._started, 3)
            self.state = {
                "version": 1,
                "status": "ready",
                "pid": os.getpid(),
                "started_at": datetime.now(timezone.utc).isoformat(),
                "ready_seconds": ready,
                "timings": self.timings,
                "template": str(Path(self.options.template).resolve()),
                "region": self.options.region,
                "account": self.deployed.account,
                "stack_name": self.options.stack_name,
                "api_url": api_url,
                "moto_url": self.moto_url,
                "sent_url": self.moto_url + SENT_PATH,
                "ports": {"api": self.api.port if self.api else None, "moto": int(self.moto_url.rsplit(":", 1)[1])},
                "aws_env": self.aws_env,
                "env": merged_env,
                "api_function": api_spec.logical_id if api_spec else None,
                "resources": resources_state,
                "functions": functions_state,
                "services": {k: v for h in self.services for k, v in getattr(h, "urls", {}).items()},
                "service_env": self.service_env,
                "skipped_resources": self.deployed.skipped,
            }
            if self.options.write_state:
                path = write_stack_state(self.state, self.options.state_dir)
                self.state_path = path
            log.info("stack.ready", extra={"fields": {"api_url": api_url, "moto_url": self.moto_url,
                                                      "seconds": ready, "timings": self.timings}})
            return self
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.options.write_state:
            remove_stack_state(os.getpid(), self.options.state_dir)
        # Pollers are told first, then the workers go (a call in flight fails at once instead of
        # being waited for), then the poller threads are joined.
        for step, action in (
            ("api", lambda: self.api and self.api.stop()),
            ("signal", lambda: self.dispatcher and self.dispatcher.signal_stop()),
            ("workers", lambda: self.pool and self.pool.close()),
            ("dispatcher", lambda: self.dispatcher and self.dispatcher.stop(timeout=3.0)),
            ("services", lambda: [s.stop() for s in self.services]),
            ("moto", lambda: self.moto and self.moto.stop()),
            ("moto_patches", self._moto_patches.close),
        ):
            began = time.perf_counter()
            try:
                action()
            except Exception:  # noqa: BLE001 - stop everything we can
                log.exception("stack.stop_error", extra={"fields": {"step": step}})
            self.timings[f"stop_{step}"] = round(time.perf_counter() - began, 3)
        log.info("stack.stop_timings", extra={"fields": {k: v for k, v in self.timings.items() if k.startswith("stop_")}})
        if self._api_socket is not None:
            self._api_socket.close()
        self.api = self.dispatcher = self.pool = self.moto = self._api_socket = None
        self.services = []
