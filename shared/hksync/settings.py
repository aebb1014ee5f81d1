"""Configuration: one pydantic-settings model per function role, validated once at cold start.

A function that lacks variables stops at import with ONE error naming every missing or invalid
variable, instead of crashing later on the first one it happens to read (the seed's
COMPASS_DB_USER crash). ``tests/infrastructure`` checks that template.yaml gives each function
everything its model requires.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, Self, TypeVar

from pydantic import (
    Field,
    FilePath,
    ModelWrapValidatorHandler,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hksync.contract.field_errors import field_errors
from hksync.contract.models import MAX_CHUNK_ITEMS

#: The CA certificates of Amazon RDS (every region) and of RDS Proxy, shipped in the layer with
#: the hksync package; certificates/README.md says where they come from and how to renew them.
RDS_CA_BUNDLE: Final = Path(__file__).with_name("certificates") / "rds-ca-bundle.pem"
#: Stages that run in AWS: their connections are encrypted, whatever else is configured.
DEPLOYED_STAGES: Final = frozenset({"dev", "staging", "prod"})


#: EventBridge's rule for an event bus name (or an ARN, which PutEvents takes too).
_EVENT_BUS_NAME: Final = r"^[/.\-_A-Za-z0-9:]{1,1600}$"


class ConfigurationError(RuntimeError):
    """The environment does not satisfy a settings model."""


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    stage: Literal["local", "dev", "staging", "prod"] = Field(
        description="Deployment stage; names the schedule group and appears in logs."
    )
    #: Set by Lambda in AWS; moto's endpoint when running locally.
    aws_region: str = Field(default="us-east-1")
    aws_endpoint_url: str | None = Field(
        default=None, description="Only for the local stack: the moto server's URL."
    )


def _init_details(error: ValidationError) -> list[InitErrorDetails]:
    return [
        InitErrorDetails(
            type=PydanticCustomError(detail["type"], detail["msg"]),
            loc=detail["loc"],
            input=detail.get("input"),
        )
        for detail in error.errors(include_url=False)
    ]


class DatabaseSettings(_Settings):
    """Functions that reach PostgreSQL: a URL locally, a Secrets Manager secret in AWS."""

    #: The database role the function works as (0009_roles_and_rls.sql grants each only what
    #: its SQL uses); None: the role it signs in as, the schema's owner (the migration). Fixed
    #: per function, not configured: functions that share a process (the local stack, the
    #: tests) each keep their own.
    database_role: ClassVar[str | None] = None

    database_url: str | None = Field(default=None, description="libpq URL (local and tests).")
    db_secret_arn: str | None = Field(
        default=None,
        description=(
            "Secrets Manager secret with username and password (and host/port, unless DB_HOST "
            "says where to connect: Aurora's managed master secret holds only the credentials)."
        ),
    )
    db_host: str | None = Field(
        default=None,
        description="Where to connect with the secret: the cluster or the RDS Proxy endpoint.",
    )
    db_port: int = Field(default=5432, ge=1, le=65535)
    db_name: str = Field(default="hksync")
    db_connect_timeout_s: int = Field(default=5, ge=1, le=60)
    db_sslmode: Literal["disable", "require", "verify-full"] = Field(
        default="verify-full",
        description=(
            "TLS of connections made with the secret: verify-full checks the server's "
            "certificate against DB_SSL_ROOT_CERT and its name against the host; require "
            "encrypts without checking either; disable (not encrypted) only in the local stage."
        ),
    )
    db_ssl_root_cert: FilePath = Field(
        default=RDS_CA_BUNDLE,
        description="CA certificates for verify-full: by default the RDS bundle in the layer.",
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _empty_url_is_unset(cls, value: Any) -> Any:
        # The template declares DATABASE_URL as "" (so that sam local's env.json may set it):
        # empty means the secret says where to connect.
        return None if value == "" else value

    @model_validator(mode="wrap")
    @classmethod
    def _one_database_source(
        cls, data: Any, handler: ModelWrapValidatorHandler[DatabaseSettings]
    ) -> DatabaseSettings:
        # A wrap validator, so that this problem is reported together with the field errors
        # (an "after" validator would not run when another variable is missing).
        lacks_database = (
            isinstance(data, dict)
            and not data.get("database_url")
            and not data.get("db_secret_arn")
        )
        problem = InitErrorDetails(
            type=PydanticCustomError("missing", "missing: set DATABASE_URL or DB_SECRET_ARN"),
            loc=("database_url",),
            input=None,
        )
        try:
            settings = handler(data)
        except ValidationError as error:
            if not lacks_database:
                raise
            raise ValidationError.from_exception_data(
                cls.__name__, [*_init_details(error), problem]
            ) from None
        if lacks_database:
            raise ValidationError.from_exception_data(cls.__name__, [problem])
        return settings

    @model_validator(mode="after")
    def _encrypted_when_deployed(self) -> Self:
        if self.stage in DEPLOYED_STAGES and self.db_sslmode == "disable":
            raise ValueError(
                f"DB_SSLMODE: disable is for the local stage only; stage {self.stage} needs "
                "require or verify-full"
            )
        return self


class CallerSettings(_Settings):
    """Where an HTTP function takes its caller from (hksync.http_api.current_user).

    In AWS: the claims API Gateway's JWT authorizer verified, and nothing else. SAM's local mode
    skips JWT authorizers, so there, and only in the local stage, a dev token (hksync.dev_tokens)
    signed with ``DEV_TOKEN_SECRET`` (events/env.json) names the caller instead. The HTTP
    functions' models include these variables, so template.yaml is checked to declare them.
    """

    aws_sam_local: bool = Field(
        default=False,
        description="Set to true by the SAM CLI in its containers (sam local invoke/start-api).",
    )
    dev_token_secret: SecretStr | None = Field(
        default=None,
        description=(
            "sam local only (events/env.json): the secret dev tokens are signed with. The "
            "template declares it empty so that SAM lets env.json set it; ignored when deployed."
        ),
    )

    @field_validator("dev_token_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # The template declares the variable as "" in every function (SAM only overrides
        # variables the template declares): empty means no secret.
        return None if value == "" else value

    @property
    def accepts_dev_tokens(self) -> bool:
        """True only in SAM's local mode AND the local stage: a deployed stage (dev, staging,
        prod) never takes the caller from a dev token, even if AWS_SAM_LOCAL is set."""
        return self.aws_sam_local and self.stage == "local"

    @model_validator(mode="after")
    def _secret_for_sam_local(self) -> Self:
        if self.accepts_dev_tokens and self.dev_token_secret is None:
            raise ValueError(
                "DEV_TOKEN_SECRET: missing: sam local in the local stage checks dev tokens with "
                "it (sam local ... --env-vars events/env.json)"
            )
        return self


class IngestSettings(CallerSettings):
    raw_bucket: str = Field(min_length=3, description="S3 bucket that holds every raw chunk.")
    #: API Gateway HTTP APIs take at most 10 MB and Lambda 6 MB per request (base64 included).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=4_500_000)
    #: Decompressed size cap for gzip bodies and presigned uploads (zip-bomb guard).
    max_chunk_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    presign_expiry_s: int = Field(default=900, ge=60, le=3600)


class ProcessorSettings(DatabaseSettings):
    database_role: ClassVar[str | None] = "hksync_processor"
    raw_bucket: str = Field(min_length=3)
    max_chunk_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_chunk_items: int = Field(default=MAX_CHUNK_ITEMS, ge=1, le=MAX_CHUNK_ITEMS)
    event_bus_name: str = Field(
        pattern=_EVENT_BUS_NAME,
        description="EventBridge bus a completed sync's change event is published to.",
    )


class QuerySettings(DatabaseSettings, CallerSettings):
    database_role: ClassVar[str | None] = "hksync_query"
    #: Listed to count a sync's uploaded chunks before the processor has seen them.
    raw_bucket: str = Field(min_length=3)


class MigrationSettings(DatabaseSettings):
    """The migration function (run on deploy by the DatabaseSchema custom resource)."""

    db_resume_wait_s: float = Field(
        default=60,
        ge=0,
        le=600,
        description=(
            "How long to keep trying to connect while the database is unreachable or starting: "
            "a paused Aurora Serverless v2 instance takes 15-30 s to resume."
        ),
    )


class RemindersSettings(DatabaseSettings, CallerSettings):
    """The reminders API: the database, and what every schedule it writes needs; its hourly
    upkeep also publishes the change events left unpublished."""

    database_role: ClassVar[str | None] = "hksync_reminders"

    reminder_schedule_group: str = Field(
        min_length=1, max_length=64, description="Scheduler schedule group of this stage."
    )
    dispatcher_function_arn: str = Field(min_length=1, description="The schedules' target.")
    scheduler_role_arn: str = Field(
        min_length=1, description="Role Scheduler assumes to invoke the dispatcher (passed)."
    )
    reminder_dlq_arn: str = Field(
        min_length=1, description="SQS queue for occurrences Scheduler could not deliver."
    )
    #: 0: fire at the minute (FlexibleTimeWindow OFF); n: anywhere within n minutes after it.
    reminder_flexible_window_minutes: int = Field(default=0, ge=0, le=1440)
    #: How long a published occurrence's ledger row is kept (hksync.reminder_upkeep); at least
    #: the day Scheduler and Lambda may still retry an occurrence.
    reminder_delivery_retention_days: int = Field(default=90, ge=1, le=3650)
    event_bus_name: str = Field(
        pattern=_EVENT_BUS_NAME,
        description=(
            "EventBridge bus the hourly upkeep publishes the change events the processor "
            "could not publish to (hksync.change_events.sweep)."
        ),
    )


class DispatcherSettings(DatabaseSettings):
    """The reminder dispatcher: the database (the delivery ledger) and the SNS topic."""

    database_role: ClassVar[str | None] = "hksync_dispatcher"

    reminder_topic_arn: str = Field(min_length=1, description="SNS topic of delivered reminders.")


class AccountSettings(DatabaseSettings, CallerSettings):
    """The account function: erasing a user (``DELETE /v1/me``) and its background worker."""

    database_role: ClassVar[str | None] = "hksync_account"

    raw_bucket: str = Field(min_length=3, description="Bucket whose user prefix is erased.")
    erasure_queue_url: str = Field(
        min_length=1, description="SQS queue that hands an erasure to the worker."
    )
    reminder_schedule_group: str = Field(
        min_length=1,
        max_length=64,
        description="Scheduler schedule group whose schedules of the user are deleted.",
    )


SettingsT = TypeVar("SettingsT", bound=_Settings)


def load_settings(model: type[SettingsT]) -> SettingsT:
    """Reads the environment into ``model``, failing once with every problem named."""
    try:
        return model()
    except ValidationError as error:
        problems = []
        for problem in field_errors(error):
            variable = problem.field.upper() if problem.field != "body" else "environment"
            reason = "missing" if problem.reason == "Field required" else problem.reason
            problems.append(f"{variable}: {reason}")
        raise ConfigurationError(
            f"{model.__name__}: {len(problems)} environment variable(s) missing or invalid: "
            + "; ".join(problems)
        ) from None


@cache
def settings_for(model: type[SettingsT]) -> SettingsT:
    """The validated settings of a role, read once per process (cold start)."""
    return load_settings(model)
