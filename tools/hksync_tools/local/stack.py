"""The whole stack on one machine, without AWS and without Docker.

- AWS services: a moto server on loopback (S3, SQS, ...), shared by every function worker.
- Database: the embedded PostgreSQL (pgserver) in .hksync/pgdata, or DATABASE_URL.
- Functions: one worker process each (several for the processor), with the environment the
  template gives them, adapted to the local services.
- Change events: the template's bus on moto, and a rule that delivers every event to an SQS
  queue, where a test or a developer reads what a backend would receive (local/change_events.py).
- EventBridge Scheduler: moto stores schedules but never fires them, so a local scheduler
  fires the due ones by a clock that tests and the demo move forward (local/scheduler.py).
- S3 notifications: moto cannot invoke functions, so a pump lists new objects and delivers
  their events to the processor, at least once and possibly out of order, with Lambda's
  asynchronous retries and an on-failure dead-letter queue.
- HTTP API: the template's routes on http://127.0.0.1:3000, with dev tokens checked the way
  the JWT authorizer checks them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import boto3

from hksync.db.migrate import migrate
from hksync_tools.cfn_template import FunctionSpec, functions, load_template, resolve_environment
from hksync_tools.local.auth import Unauthorized, signing_secret, verify_authorization
from hksync_tools.local.change_events import (
    LocalChangeEvents,
    change_event_references,
    provision_change_events,
)
from hksync_tools.local.lambda_events import http_api_event
from hksync_tools.local.notifier import CreatedObject, ObjectCreatedFeed
from hksync_tools.local.queues import (
    QueuePoller,
    provision_queues,
    queue_event_sources,
    queue_references,
)
from hksync_tools.local.scheduler import (
    LocalClock,
    LocalReminderResources,
    LocalScheduler,
    provision_reminders,
    reminder_references,
)
from hksync_tools.local.workers import FunctionWorker, Invocation

LOCAL_REGION: Final = "us-east-1"
# moto's default account, so that ARNs and queue URLs agree with what moto reports.
LOCAL_ACCOUNT: Final = "123456789012"
#: Lambda retries a failed asynchronous invocation twice (the template's MaximumRetryAttempts).
ASYNC_RETRIES: Final = 2
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def default_state_dir(root: Path) -> Path:
    """Where the local stack keeps its database, signing secret and stack.json.

    HKSYNC_STATE_DIR moves it (tests run their own stack beside a developer's)."""
    return Path(os.environ.get("HKSYNC_STATE_DIR") or root / ".hksync")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class StackInfo:
    """What a client (the simulator, ops commands, tests) needs to reach a running stack."""

    api_url: str
    aws_endpoint_url: str
    database_url: str
    raw_bucket: str
    dead_letter_queue_url: str

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> StackInfo:
        return cls(**json.loads(path.read_text()))


class EmbeddedPostgres:
    """The pgserver-managed PostgreSQL in a folder of the project, started on demand."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        from pgserver.postgres_server import get_server  # local tooling, not in the layer

        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self._data_dir, cleanup_mode="stop")
        url: str = self._server.get_uri()
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class LocalStack:
    def __init__(
        self,
        root: Path,
        *,
        port: int = 3000,
        database_url: str | None = None,
        processor_concurrency: int = 2,
        duplicate_rate: float = 0.05,
        seed: int | None = None,
        function_log_level: str = "INFO",
        state_dir: Path | None = None,
    ) -> None:
        self.root = root
        self.state_dir = state_dir or default_state_dir(root)
        self.port = port
        self._external_database_url = database_url
        self._processor_concurrency = processor_concurrency
        self._duplicate_rate = duplicate_rate
        self._rng = random.Random(seed)  # noqa: S311 - simulates delivery order, not secrets
        self._function_log_level = function_log_level
        self._template = load_template(root / "template.yaml")
        self.functions: dict[str, FunctionSpec] = functions(self._template, root)
        self._workers: dict[str, list[FunctionWorker]] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: Any = None
        self._postgres: EmbeddedPostgres | None = None
        self._http: ThreadingHTTPServer | None = None
        self.info: StackInfo | None = None
        self.signing_secret = ""
        #: Rounds of the notification pump that found nothing new, and who waits for one.
        self._empty_rounds = 0
        self._pump_round = threading.Condition()
        #: Reminders: the clock the local scheduler fires by (tests and the demo move it).
        self.clock = LocalClock()
        self.reminder_scheduler: LocalScheduler | None = None
        self.reminder_resources: LocalReminderResources | None = None
        #: The change-event bus and the queue its events are delivered to.
        self.change_events: LocalChangeEvents | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> StackInfo:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        from moto.server import ThreadedMotoServer

        moto_port = free_port()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server: one line per call
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        endpoint = f"http://127.0.0.1:{moto_port}"
        os.environ.update(
            {
                **FAKE_CREDENTIALS,
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": LOCAL_REGION,
                "AWS_REGION": LOCAL_REGION,
            }
        )

        database_url = self._external_database_url
        if not database_url:
            self._postgres = EmbeddedPostgres(self.state_dir / "pgdata")
            database_url = self._postgres.start()
        migrate(database_url)

        references = self.references()
        bucket = references["RawBucket"]
        boto3.client("s3", region_name=LOCAL_REGION).create_bucket(Bucket=bucket)
        dlq_url = boto3.client("sqs", region_name=LOCAL_REGION).create_queue(
            QueueName="hksync-processor-dlq-local"
        )["QueueUrl"]
        self.reminder_resources = provision_reminders(references, LOCAL_REGION)
        self.change_events = provision_change_events(references, LOCAL_REGION)
        provision_queues(
            boto3.client("sqs", region_name=LOCAL_REGION), queue_event_sources(self._template)
        )

        self.signing_secret = signing_secret(self.state_dir)
        for spec in self.functions.values():
            environment = {
                **resolve_environment(spec.environment, references),
                **FAKE_CREDENTIALS,
                "STAGE": "local",
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": LOCAL_REGION,
                "AWS_REGION": LOCAL_REGION,
                "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
                "DATABASE_URL": database_url,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": self._function_log_level,
            }
            if self._function_log_level.upper() in {"WARNING", "ERROR"}:
                # A quiet stack (the demo) keeps the EMF metric lines out of the output too.
                environment["POWERTOOLS_METRICS_DISABLED"] = "true"
            environment.pop("DB_SECRET_ARN", None)
            copies = self._processor_concurrency if "S3" in spec.event_types else 1
            self._workers[spec.logical_id] = [
                FunctionWorker(
                    spec.logical_id,
                    spec.code_dir,
                    spec.handler,
                    environment,
                    memory_mb=spec.memory_mb,
                    timeout_s=spec.timeout_s,
                )
                for _ in range(copies)
            ]

        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self.port = self._http.server_address[1]
        self.info = StackInfo(
            api_url=f"http://127.0.0.1:{self.port}",
            aws_endpoint_url=endpoint,
            database_url=database_url,
            raw_bucket=bucket,
            dead_letter_queue_url=dlq_url,
        )
        self._spawn(self._http.serve_forever, "http")
        self._spawn(self._pump, "s3-notifications")
        self.reminder_scheduler = LocalScheduler(
            boto3.client("scheduler", region_name=LOCAL_REGION),
            self.reminder_resources.group,
            self._invoke_target,
            clock=self.clock,
            sqs=boto3.client("sqs", region_name=LOCAL_REGION),
            duplicate_rate=self._duplicate_rate,
            rng=random.Random(self._rng.random()),  # noqa: S311 - not secrets
        )
        self._spawn(self._fire_schedules, "scheduler")
        self._spawn(self._poll_queues, "sqs-event-sources")
        self.info.save(self.state_dir / "stack.json")
        return self.info

    def stop(self) -> None:
        self._stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        for workers in self._workers.values():
            for worker in workers:
                worker.stop()
        self._workers.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
        (self.state_dir / "stack.json").unlink(missing_ok=True)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=f"hksync-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def references(self) -> dict[str, str]:
        """Values for the template's !Ref / !Sub / !FindInMap, as a local deployment."""
        references = {
            "Stage": "local",
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": "hksync-local",
        }
        for parameter, definition in self._template.get("Parameters", {}).items():
            if "Default" in definition and parameter not in references:
                references[parameter] = str(definition["Default"])
        for mapping, by_key in self._template.get("Mappings", {}).items():
            for _, values in by_key.items():
                for name, value in values.items():
                    references.setdefault(f"FindInMap:{mapping}:{name}", str(value))
        bucket_name = self._template["Resources"]["RawBucket"]["Properties"].get("BucketName")
        resolved = (
            resolve_environment({"bucket": bucket_name}, references).get("bucket")
            if bucket_name
            else None
        )
        references["RawBucket"] = resolved or "hksync-raw-local"
        references.update(reminder_references(self._template, references))
        references.update(change_event_references(self._template, references))
        references.update(queue_references(queue_event_sources(self._template), references))
        return references

    # --- EventBridge Scheduler -----------------------------------------------------------------

    def _invoke_target(self, arn: str, event: dict[str, Any]) -> Invocation:
        references = self.references()
        logical_id = next(
            (spec_id for spec_id in self._workers if references.get(f"{spec_id}.Arn") == arn),
            None,
        )
        if logical_id is None:
            return Invocation(error_type="ResourceNotFoundException", error_message=arn)
        return self._workers[logical_id][0].invoke(event)

    def _fire_schedules(self) -> None:
        while not self._stopping.wait(0.5):
            if self.reminder_scheduler is None:
                continue
            try:
                self.reminder_scheduler.fire_due()
            except Exception:  # keep firing: one bad schedule must not stop the others
                logging.getLogger(__name__).exception("local scheduler: firing failed")

    # --- SQS event sources (local/queues.py) ----------------------------------------------------

    def _poll_queues(self) -> None:
        references = self.references()
        sqs = boto3.client("sqs", region_name=LOCAL_REGION)
        pollers = [
            QueuePoller(sqs, source, references, self._workers[source.function][0].invoke)
            for source in queue_event_sources(self._template)
            if source.function in self._workers
        ]
        while not self._stopping.is_set():
            delivered = 0
            for poller in pollers:
                try:
                    delivered += poller.poll_once()
                except Exception:  # keep polling: one bad batch must not stop the others
                    logging.getLogger(__name__).exception("local event source: polling failed")
            if not delivered:
                self._stopping.wait(0.2)

    # --- S3 notifications --------------------------------------------------------------------

    def _pump(self) -> None:
        assert self.info is not None
        feed = ObjectCreatedFeed(boto3.client("s3", region_name=LOCAL_REGION), self.info.raw_bucket)
        workers = next(
            (
                group
                for spec_id, group in self._workers.items()
                if "S3" in self.functions[spec_id].event_types
            ),
            [],
        )
        sqs = boto3.client("sqs", region_name=LOCAL_REGION)
        with ThreadPoolExecutor(max_workers=max(1, len(workers))) as pool:
            while not self._stopping.is_set():
                created = feed.new_objects()
                if not created:
                    with self._pump_round:
                        self._empty_rounds += 1
                        self._pump_round.notify_all()
                    self._stopping.wait(0.1)
                    continue
                deliveries = created + [
                    obj for obj in created if self._rng.random() < self._duplicate_rate
                ]
                self._rng.shuffle(deliveries)
                slots = [deliveries[index :: len(workers)] for index in range(len(workers))]
                round_ = [
                    pool.submit(self._deliver_all, worker, batch, sqs)
                    for worker, batch in zip(workers, slots, strict=False)
                ]
                # Wait for every delivery of this round before listing again (each object is
                # listed once), so that idle means processed: a no-op submitted after them
                # could run on a thread freed by an empty batch while another still works.
                wait(round_)

    def _deliver_all(self, worker: FunctionWorker, batch: list[CreatedObject], sqs: Any) -> None:
        assert self.info is not None
        for obj in batch:
            event = obj.event(self.info.raw_bucket)
            outcome: Invocation | None = None
            for _ in range(1 + ASYNC_RETRIES):
                outcome = worker.invoke(event)
                if not outcome.failed:
                    break
            if outcome is not None and outcome.failed:
                # Say so where the developer looks (Lambda would log it to CloudWatch).
                print(
                    f"hksync local: processor failed {1 + ASYNC_RETRIES} times on an object; "
                    f"sent to the dead-letter queue ({outcome.error_type}); "
                    "see `hksync ops dlq list`",
                    file=sys.stderr,
                )
                # Lambda's on-failure destination: the event, with why it failed.
                sqs.send_message(
                    QueueUrl=self.info.dead_letter_queue_url,
                    MessageBody=json.dumps(
                        {
                            "requestContext": {
                                "condition": "RetriesExhausted",
                                "approximateInvokeCount": 1 + ASYNC_RETRIES,
                            },
                            "responseContext": {"functionError": outcome.error_type},
                            "requestPayload": event,
                        }
                    ),
                )

    def wait_until_idle(self, timeout_s: float = 60.0) -> None:
        """Blocks until every object in the bucket has been delivered to the processor.

        That is a round of the pump that started after this call and found nothing new: the
        round under way may have listed the bucket before the caller's last upload, so its
        finding nothing proves nothing (two empty rounds from now, not one)."""
        with self._pump_round:
            wanted = self._empty_rounds + 2
            if not self._pump_round.wait_for(
                lambda: self._empty_rounds >= wanted, timeout=timeout_s
            ):
                raise TimeoutError("S3 notifications still pending")

    # --- HTTP API ------------------------------------------------------------------------------

    def handle_http(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(target)
        for spec in self.functions.values():
            for route in spec.routes:
                parameters = route.match(method, url.path)
                if parameters is None:
                    continue
                try:
                    claims = verify_authorization(headers.get("authorization"), self.signing_secret)
                except Unauthorized:
                    return 401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
                event = http_api_event(
                    method.upper(),
                    route.route_key,
                    url.path,
                    path_parameters=parameters,
                    query=dict(parse_qsl(url.query)),
                    headers=headers,
                    body=body or None,
                    claims=claims,
                )
                outcome = self._workers[spec.logical_id][0].invoke(event)
                if outcome.failed or not isinstance(outcome.result, dict):
                    return (
                        500,
                        {"content-type": "application/json"},
                        b'{"message":"Internal Server Error"}',
                    )
                return _http_response(outcome.result)
        return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'


def _http_response(result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return int(result.get("statusCode", 200)), dict(result.get("headers") or {}), payload


def _handler_for(stack: LocalStack) -> type[BaseHTTPRequestHandler]:
    class ApiGatewayHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, response_headers, payload = stack.handle_http(
                self.command, self.path, headers, body
            )
            self.send_response(status)
            for name, value in response_headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def __getattr__(self, name: str) -> Any:
            # Every method (do_GET, do_TRACE, do_QUERY...), as API Gateway: a method no route
            # serves is a 404 from the router, not the HTTP server's 501.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the functions log what matters

    return ApiGatewayHandler


@contextmanager
def running_stack(root: Path, **options: Any) -> Iterator[LocalStack]:
    stack = LocalStack(root, **options)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
