"""The one place ops connects to the database and builds its boto3 clients, for one target.

Everything is opened on first use, so a command needs only the parts of the target it
touches; the connection is closed with the resources.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

import boto3
import psycopg
from botocore.config import Config
from psycopg.conninfo import make_conninfo

from hksync.aws.s3 import RawStore
from hksync.db.change_events import ChangeEventRepository
from hksync.db.erasure import ErasureRepository
from hksync.db.syncs import SyncRepository
from hksync.processing import ChunkProcessor
from hksync.settings import ProcessorSettings
from hksync_tools.ops.dead_letters import DeadLetterQueue
from hksync_tools.ops.queries import OpsQueries
from hksync_tools.ops.target import OpsTarget, QueueName, require

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

#: The processor's own limit, so that ops accepts and rejects exactly the chunks it does.
DEFAULT_MAX_CHUNK_BYTES: Final[int] = ProcessorSettings.model_fields["max_chunk_bytes"].default
APPLICATION_NAME: Final = "hksync-ops"
# Same retry behaviour as the functions' clients (hksync.aws.clients), which ops cannot reuse:
# those take their endpoint from the process environment, ops from the target it is pointed at.
_AWS_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5})


class OpsResources:
    """The database, the raw bucket and the dead-letter queues of one target."""

    def __init__(
        self, target: OpsTarget, *, max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES
    ) -> None:
        self.target = target
        self.max_chunk_bytes = max_chunk_bytes

    def __enter__(self) -> OpsResources:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if "connection" in self.__dict__:
            self.connection.close()
            del self.__dict__["connection"]

    # --- the database -----------------------------------------------------------------------

    @cached_property
    def connection(self) -> psycopg.Connection:
        url = require(self.target.database_url, "the database (--database-url)")
        # Autocommit, as the functions' connection: the processor's writes open their own
        # transaction per object. The application name shows ops in pg_stat_activity.
        return psycopg.connect(
            make_conninfo(url, application_name=APPLICATION_NAME, connect_timeout=10),
            autocommit=True,
        )

    @cached_property
    def repository(self) -> SyncRepository:
        return SyncRepository(self.connection)

    @cached_property
    def queries(self) -> OpsQueries:
        return OpsQueries(self.connection)

    @cached_property
    def erasures(self) -> ErasureRepository:
        return ErasureRepository(self.connection)

    @cached_property
    def change_events(self) -> ChangeEventRepository:
        return ChangeEventRepository(self.connection)

    # --- AWS ----------------------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        if not self.target.aws_endpoint_url:
            return {"config": _AWS_CONFIG}
        from hksync_tools.local_aws import local_client_options  # the local stack's moto

        return {"config": _AWS_CONFIG, **local_client_options(self.target.aws_endpoint_url)}

    @cached_property
    def s3(self) -> S3Client:
        client: S3Client = boto3.client("s3", **self._client_options())
        return client

    @cached_property
    def sqs(self) -> SQSClient:
        client: SQSClient = boto3.client("sqs", **self._client_options())
        return client

    @cached_property
    def store(self) -> RawStore:
        return RawStore(self.s3, require(self.target.raw_bucket, "the raw bucket (--bucket)"))

    def dead_letter_queue(self, queue: QueueName) -> DeadLetterQueue:
        return DeadLetterQueue(self.sqs, self.target.dead_letter_queue(queue))

    def processor(self) -> ChunkProcessor:
        """The processor function's own code, over this target's bucket and database."""
        return ChunkProcessor(self.store, self.repository, max_bytes=self.max_chunk_bytes)
