"""Each function runs in its own process with the environment the template gives it, the way
`sam local` runs each in its own container: no function sees another's settings, and a
function's cold start (settings, clients) happens once per worker."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hksync_tools.local.functions import FakeLambdaContext, load_handler


@dataclass(frozen=True, slots=True)
class Invocation:
    """What came back from one invocation: the handler's result, or Lambda's error shape."""

    result: Any = None
    error_type: str | None = None
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None


def _serve(
    code_dir: str,
    handler: str,
    name: str,
    memory_mb: int,
    timeout_s: int,
    environment: dict[str, str],
    channel: Connection,
) -> None:
    os.environ.update(environment)
    try:
        function = load_handler(Path(code_dir), handler)
    except Exception as error:  # reported to the invoker, as Lambda reports an init error
        channel.send(Invocation(error_type=type(error).__name__, error_message=str(error)))
        return
    channel.send(Invocation(result="ready"))
    while True:
        try:
            event = channel.recv()
        except EOFError:
            return
        if event is None:
            return
        try:
            channel.send(
                Invocation(result=function(event, FakeLambdaContext(name, memory_mb, timeout_s)))
            )
        except Exception as error:  # the invoker decides: retry, dead-letter, or a 502
            channel.send(
                Invocation(
                    error_type=type(error).__name__,
                    error_message=f"{error}\n{traceback.format_exc(limit=8)}",
                )
            )


class FunctionWorker:
    """One warm execution environment of a function, invoked one event at a time."""

    def __init__(
        self,
        name: str,
        code_dir: Path,
        handler: str,
        environment: dict[str, str],
        *,
        memory_mb: int = 512,
        timeout_s: int = 30,
    ) -> None:
        self.name = name
        context = multiprocessing.get_context("spawn")
        self._channel, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(str(code_dir), handler, name, memory_mb, timeout_s, environment, child),
            name=f"hksync-{name}",
            daemon=True,
        )
        self._lock = threading.Lock()
        self._process.start()
        ready: Invocation = self._channel.recv()
        if ready.failed:
            self._process.join(timeout=5)
            raise RuntimeError(
                f"{name} failed to initialise: {ready.error_type}: {ready.error_message}"
            )

    def invoke(self, event: dict[str, Any]) -> Invocation:
        with self._lock:
            self._channel.send(event)
            outcome: Invocation = self._channel.recv()
            return outcome

    def stop(self) -> None:
        with self._lock, contextlib.suppress(BrokenPipeError, OSError):
            self._channel.send(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
