"""Contract errors in one documented shape: a field path and a human-readable reason."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ValidationError

from hksync.contract.types import SampleKind

_UNION_TAGS = frozenset(kind.value for kind in SampleKind)
#: The tags of a reminder's two kinds of schedule (hksync.contract.reminders), a union at the
#: top of the body: dropped from paths like the sample kinds.
ONE_TIME: Final = "one_time"
RECURRING: Final = "recurring"
_TOP_LEVEL_TAGS = frozenset({ONE_TIME, RECURRING})
#: What pydantic appends to the location of a refused dictionary key.
_DICT_KEY_MARKER = "[key]"
#: Every text field of the contract matches this: PostgreSQL text and jsonb cannot hold U+0000,
#: so a string with it would pass validation and then fail in the processor on every retry (a
#: poison chunk). The contract refuses it instead, with this reason.
NO_NUL_PATTERN: Final = "^[^\\u0000]*$"
NUL_REASON: Final = "must not contain the NUL character (U+0000), which cannot be stored"
_REASONS_BY_PATTERN: Final = {NO_NUL_PATTERN: NUL_REASON}


class FieldError(BaseModel):
    """One rejected field: where it is (``samples[3].end_date``) and why."""

    field: str
    reason: str


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('samples', 3, 'quantity', 'end_date')`` -> ``samples[3].end_date``.

    The union tag pydantic inserts after a list index is an implementation detail of the
    models, not part of the JSON the client sent, so it is dropped; so is the ``[key]`` marker
    it appends when a dictionary key (rather than its value) is refused.
    """
    path = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif (
            (isinstance(previous, int) and part in _UNION_TAGS)
            or (previous is None and part in _TOP_LEVEL_TAGS)
            or part == _DICT_KEY_MARKER
        ):
            pass
        else:
            path += f".{part}" if path else part
        previous = part
    return path or "body"


def field_errors(error: ValidationError) -> list[FieldError]:
    return [
        FieldError(
            field=field_path(detail["loc"]),
            reason=_REASONS_BY_PATTERN.get(
                str(detail.get("ctx", {}).get("pattern")),
                detail["msg"].removeprefix("Value error, "),
            ),
        )
        for detail in error.errors(include_url=False, include_input=False)
    ]
