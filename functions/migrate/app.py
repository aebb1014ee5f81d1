"""Migration function: brings the database schema up to date on every deploy.

Invoked by the template's DatabaseSchema custom resource (CloudFormation's request/response
protocol), or directly (``aws lambda invoke``) by an operator. Either way it runs
hksync.db.migrate.migrate, the runner the tests use: each migration applies once, under an
advisory lock, so running it twice or concurrently is safe. It waits up to DB_RESUME_WAIT_S
for a database that is not ready (a paused Aurora Serverless v2 cluster resuming).

CloudFormation gets an answer on every path (hksync.aws.custom_resource): success, failure, a
run about to time out, and a module that cannot initialise. Only the responder, which needs
the standard library alone, is imported before the guard below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from hksync.aws.custom_resource import (
    CustomResourceRequest,
    answer,
    answer_init_failure,
    is_custom_resource_request,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

PHYSICAL_RESOURCE_ID: Final = "hksync-database-schema"

# Everything that can fail to load (compiled extensions, a layer for another platform) loads
# here: an import error raised at module level would be an init error Lambda reports to nobody
# while CloudFormation waits out the resource's timeout.
try:
    from hksync.db.connection import conninfo
    from hksync.db.migrate import migrate
    from hksync.observability import logger
    from hksync.settings import MigrationSettings, settings_for
except Exception as error:  # answered on every request by handler()
    init_failure: Exception | None = error
else:
    init_failure = None


def _migrate() -> list[str]:
    # Settings are read here, not at import: a configuration error must become a FAILED
    # response to CloudFormation, not an init error it would wait on until the timeout.
    settings = settings_for(MigrationSettings)
    applied = migrate(conninfo(settings), wait_for_server_s=settings.db_resume_wait_s)
    logger.info("migrations applied", extra={"applied": applied})
    return applied


def _migrate_for_stack() -> Mapping[str, str]:
    return {"Applied": str(len(_migrate()))}


def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not is_custom_resource_request(event):
        return {"applied": _migrate()}
    request = CustomResourceRequest.from_event(event)
    response = answer(
        request, _migrate_for_stack, physical_resource_id=PHYSICAL_RESOURCE_ID, context=context
    )
    if response.status == "FAILED":
        logger.error("migration failed", extra={"reason": response.reason})
    return {"status": response.status, "reason": response.reason}


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if init_failure is not None:
        response = answer_init_failure(
            event, init_failure, physical_resource_id=PHYSICAL_RESOURCE_ID
        )
        return {"status": response.status, "reason": response.reason}
    return logger.inject_lambda_context(_handle, clear_state=True)(event, context)
