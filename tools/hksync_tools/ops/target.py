"""Where the system ops works on is: the running local stack, or a deployed stack given
explicitly; and the errors a command reports to the operator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

#: The dead-letter queues ops knows: the processor's (S3 events it gave up on) and the
#: account function's (erasures that failed five times).
QueueName = Literal["processor", "erasure"]
QUEUE_NAMES: Final[tuple[QueueName, ...]] = ("processor", "erasure")
#: The erasure dead-letter queue's logical id in template.yaml.
ERASURE_DEAD_LETTER_QUEUE: Final = "ErasureDeadLetterQueue"


class OpsError(Exception):
    """A command could not do what was asked; the message says why, for the operator."""

    exit_code = 1


class OpsConfigurationError(OpsError):
    """ops does not know how to reach part of the system a command needs."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class OpsTarget:
    """How ops reaches the system: the running local stack, or a deployed stack given
    explicitly (reachable from here through a bastion or an SSM port-forward, or with ops
    running as a one-off task inside the VPC; AWS credentials and region from the environment).
    """

    database_url: str | None = None
    raw_bucket: str | None = None
    dead_letter_queue_url: str | None = None
    #: The local stack's moto server; None means AWS itself (or AWS_ENDPOINT_URL).
    aws_endpoint_url: str | None = None
    description: str = "explicit options"
    erasure_dead_letter_queue_url: str | None = None

    @classmethod
    def resolve(
        cls,
        state_dir: Path,
        *,
        database_url: str | None = None,
        raw_bucket: str | None = None,
        dead_letter_queue_url: str | None = None,
        erasure_dead_letter_queue_url: str | None = None,
    ) -> OpsTarget:
        """The explicit target if any part of one is given, else the running local stack.

        Explicit options are never mixed with the local stack's: pointing at a deployed bucket
        through the local moto server would silently read the wrong system.
        """
        if database_url or raw_bucket or dead_letter_queue_url or erasure_dead_letter_queue_url:
            return cls(
                database_url,
                raw_bucket,
                dead_letter_queue_url,
                erasure_dead_letter_queue_url=erasure_dead_letter_queue_url,
            )
        return cls.local(state_dir)

    @classmethod
    def local(cls, state_dir: Path) -> OpsTarget:
        """The local stack whose state file is in state_dir."""
        # Local tooling, imported only for this target.
        from hksync_tools.local.queues import local_queue_name
        from hksync_tools.local.stack import StackInfo
        from hksync_tools.local_aws import local_queue_url

        state = state_dir / "stack.json"
        if not state.exists():
            raise OpsConfigurationError(
                f"no local stack is running (no {state}): start `hksync local up`, or point ops "
                "at a deployed stack with --database-url, --bucket and --dlq-url"
            )
        info = StackInfo.load(state)
        return cls(
            info.database_url,
            info.raw_bucket,
            info.dead_letter_queue_url,
            info.aws_endpoint_url,
            description=f"local stack ({state})",
            # The state file names the processor's queue only; the stack names every queue of
            # the template from its logical id.
            erasure_dead_letter_queue_url=local_queue_url(
                local_queue_name(ERASURE_DEAD_LETTER_QUEUE)
            ),
        )

    def dead_letter_queue(self, queue: QueueName) -> str:
        """The URL of one of the dead-letter queues, or why ops does not know it."""
        if queue == "erasure":
            return require(
                self.erasure_dead_letter_queue_url,
                "the erasure dead-letter queue (--erasure-dlq-url)",
            )
        return require(self.dead_letter_queue_url, "the processor's dead-letter queue (--dlq-url)")


def require(value: str | None, what: str) -> str:
    """value, or an OpsConfigurationError saying that the command needs what."""
    if not value:
        raise OpsConfigurationError(f"this command needs {what}")
    return value
