"""The reminders contract: what the app sends to schedule a reminder, and what the schedule
sends the dispatcher.

A reminder is either one-time, at a local date-time (``at``) in an IANA time zone, or
recurring, with a Scheduler cron expression (``cron``) evaluated in that zone. These models
check the form of each field; whether a time is still ahead is checked against the clock by
hksync.reminders, which reports it the same way (422, naming the field).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StringConstraints,
    Tag,
    WithJsonSchema,
    field_validator,
)

from hksync.contract.field_errors import ONE_TIME, RECURRING
from hksync.contract.models import StrictModel, Uuid, is_iana_time_zone
from hksync.cron import CronError, CronExpression

ReminderKind = Literal["medication", "check_in", "measurement", "other"]
#: Short enough for a push notification's title; no control characters.
Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
TIME_ZONE_FIELD: Final = "time_zone"
#: The closest two occurrences of a recurring reminder may be, on the wall clock: a reminder is
#: a nudge, not a timer; more often is noise, and each occurrence is a Scheduler invocation and
#: a Lambda run (96 a day at this interval). Judged on the expression alone, never on the time
#: of the request (hksync.reminders), so one is accepted or refused the same way every second.
MIN_RECURRING_INTERVAL: Final = timedelta(minutes=15)


_LOCAL_DATE_TIME: Final = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?"


def _local_date_time(value: Any) -> Any:
    # Strict mode takes no strings for date-times: parse the text here, and refuse an offset,
    # because the zone is time_zone's (an offset would say something else, or the same twice).
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a local date-time, YYYY-MM-DDTHH:MM[:SS]") from None
        if parsed.tzinfo is not None:
            raise ValueError(
                "must be a local date-time without a UTC offset; the zone is time_zone"
            )
        if parsed.microsecond:
            raise ValueError("must be given to the second at most")
        if not re.fullmatch(_LOCAL_DATE_TIME, value, flags=re.ASCII):
            raise ValueError("must be a local date-time, YYYY-MM-DDTHH:MM[:SS]")
        return parsed
    return value


LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_local_date_time),
    # Not JSON Schema's "date-time", which requires an offset: a wall-clock time, no offset.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{_LOCAL_DATE_TIME}$",
            "description": "A local date-time without offset, in time_zone.",
        }
    ),
]


class _Schedule(StrictModel):
    time_zone: str = Field(
        examples=["Europe/Berlin"], description="IANA time zone the times are given in."
    )

    @field_validator("time_zone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        if not is_iana_time_zone(value):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)")
        return value


class OneTimeSchedule(_Schedule):
    """Fires once, at a local date-time in ``time_zone``."""

    at: LocalDateTime = Field(
        examples=["2026-11-26T08:00:00"],
        description="The local date-time, without an offset.",
    )

    @property
    def cron(self) -> None:
        return None


class RecurringSchedule(_Schedule):
    """Fires at every occurrence of a Scheduler cron expression, in ``time_zone``."""

    cron: str = Field(
        examples=["0 8 * * ? *"],
        description=(
            "EventBridge Scheduler's six cron fields (minutes hours day-of-month month "
            "day-of-week year), without cron( ). Two occurrences at least "
            f"{MIN_RECURRING_INTERVAL.seconds // 60} minutes apart on the wall clock; the first "
            "is the first at least a minute ahead."
        ),
    )

    @property
    def at(self) -> None:
        return None

    @field_validator("cron")
    @classmethod
    def _scheduler_cron(cls, value: str) -> str:
        if value.strip().startswith("cron("):
            raise ValueError("give the six fields without cron( ), e.g. 0 8 * * ? *")
        try:
            return CronExpression.parse(value).text
        except CronError as error:
            raise ValueError(str(error)) from None


class _ReminderFields(StrictModel):
    reminder_id: Uuid
    kind: ReminderKind
    title: Title


class OneTimeReminder(OneTimeSchedule, _ReminderFields):
    """A new one-time reminder."""


class RecurringReminder(RecurringSchedule, _ReminderFields):
    """A new recurring reminder."""


def _schedule_kind(data: Any) -> str | None:
    """Which of the two a body is: the one of ``at`` and ``cron`` it has. None (refused, with
    one reason) when it has both or neither, or is not an object."""
    if isinstance(data, dict):
        if ("at" in data) != ("cron" in data):
            return ONE_TIME if "at" in data else RECURRING
        return None
    if isinstance(data, OneTimeSchedule | RecurringSchedule):
        return ONE_TIME if isinstance(data, OneTimeSchedule) else RECURRING
    return None


_EXACTLY_ONE = Discriminator(
    _schedule_kind,
    custom_error_type="one_schedule",
    custom_error_message=(
        "must be an object with either at (a one-time local date-time) or cron (recurring), "
        "not both"
    ),
)
ReminderSchedule = OneTimeSchedule | RecurringSchedule
NewReminder = OneTimeReminder | RecurringReminder


class CreateReminder(
    RootModel[
        Annotated[
            Annotated[OneTimeReminder, Tag(ONE_TIME)]
            | Annotated[RecurringReminder, Tag(RECURRING)],
            _EXACTLY_ONE,
        ]
    ]
):
    """POST /v1/reminders: a one-time reminder (``at``) or a recurring one (``cron``), never
    both (oneOf). ``reminder_id`` is the client's: sending it again is a no-op."""


class RescheduleReminder(
    RootModel[
        Annotated[
            Annotated[OneTimeSchedule, Tag(ONE_TIME)]
            | Annotated[RecurringSchedule, Tag(RECURRING)],
            _EXACTLY_ONE,
        ]
    ]
):
    """PUT /v1/reminders/{reminder_id}: the new schedule, one-time or recurring (oneOf): a
    one-time reminder may become recurring, and back."""


class ReminderOccurrence(BaseModel):
    """What a schedule sends the dispatcher, once per occurrence (the schedule's target input).

    Scheduler fills the ``<aws.scheduler.*>`` placeholders of the input at each invocation;
    ``scheduled_time`` is the occurrence's nominal time, the same on every retry and duplicate
    of that occurrence, which is what makes it a delivery key. ``revision`` is the reminder's
    schedule revision when the schedule was written: an occurrence of an older schedule (still
    in flight after a reschedule) is not delivered.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: str = Field(min_length=1)
    reminder_id: UUID
    revision: int = Field(ge=1)
    scheduled_time: AwareDatetime
    execution_id: str | None = None
    attempt: int | None = None
