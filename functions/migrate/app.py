"""Migration function: brings the database schema up to date on every deploy.

Invoked by the template's DatabaseSchema custom resource (CloudFormation's request/response
protocol), or directly (``aws lambda invoke``) by an operator. Either way it runs
hksync.db.migrate.migrate, the runner the tests use: each migration applies once, under an
advisory lock, so running it twice or concurrently is safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync.aws.custom_resource import (
    CustomResourceRequest,
    handle,
    is_custom_resource_request,
    send_response,
)
from hksync.db.connection import conninfo
from hksync.db.migrate import migrate
from hksync.observability import logger
from hksync.settings import MigrationSettings, settings_for

PHYSICAL_RESOURCE_ID: Final = "hksync-database-schema"


def _migrate() -> list[str]:
    # Settings are read here, not at import: a configuration error must become a FAILED
    # response to CloudFormation, not an init error it would wait on until the timeout.
    applied = migrate(conninfo(settings_for(MigrationSettings)))
    logger.info("migrations applied", extra={"applied": applied})
    return applied


def _migrate_for_stack() -> Mapping[str, str]:
    return {"Applied": str(len(_migrate()))}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not is_custom_resource_request(event):
        return {"applied": _migrate()}
    request = CustomResourceRequest.model_validate(event)
    response = handle(request, _migrate_for_stack, physical_resource_id=PHYSICAL_RESOURCE_ID)
    if response.status == "FAILED":
        logger.error("migration failed", extra={"reason": response.reason})
    send_response(request, response)
    return {"status": response.status, "reason": response.reason}
