"""Loading a function's handler the way Lambda does: from its code folder and handler string.

Each load imports the module afresh under a unique name, so its cold-start work (settings,
clients) runs against the environment of that moment, as a new Lambda container would.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]
_loads = itertools.count()


def load_handler(code_dir: Path, handler: str) -> Handler:
    """``handler`` is Lambda's "module.function" (e.g. ``app.handler``) inside ``code_dir``."""
    module_path, _, function_name = handler.rpartition(".")
    source = code_dir / (module_path.replace(".", "/") + ".py")
    if not source.is_file():
        raise FileNotFoundError(f"no handler module {source}")
    name = f"hksync_function_{code_dir.name}_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    function: Handler = getattr(module, function_name)
    return function


class FakeLambdaContext:
    """The LambdaContext attributes Powertools reads, for invoking a handler outside Lambda."""

    def __init__(self, function_name: str, memory_mb: int = 1024, timeout_s: int = 900) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        )
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = f"local-{next(_loads)}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._timeout_ms = timeout_s * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms
