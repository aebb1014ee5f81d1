"""What the fault suite needs beyond the usual fixtures: AWS and PostgreSQL that several OS
processes share, processor processes that can be killed, and a PostgreSQL that can be stopped.

- :func:`moto_server`: moto as a server on loopback (as the local stack runs it). In-process
  ``mock_aws`` is per process; a server is what lets worker processes see the same bucket.
- :class:`ProcessorProcess`: ``tests/support/processor_worker.py`` in a subprocess, started
  with a barrier so that several can begin at the same instant, and killable with SIGKILL.
- :class:`RestartablePostgres`: an embedded PostgreSQL of its own (pgserver, its own data
  directory), so stopping it disturbs no other test.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import psycopg
from psycopg import sql

from hksync.db.migrate import migrate
from hksync_tools.local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
#: libpq's application name for every worker connection, to find them in pg_stat_activity.
WORKER_APPLICATION_NAME = "hksync-fault-worker"


@contextmanager
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class ProcessorProcess:
    """One processor worker process, reading the processor's results line by line."""

    def __init__(self, bucket: str, keys: list[str], *, pause_in_transaction: bool = False):
        command = [sys.executable, "-m", "tests.support.processor_worker", "--bucket", bucket]
        if pause_in_transaction:
            command.append("--pause-in-transaction")
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PGAPPNAME": WORKER_APPLICATION_NAME,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [*command, *keys],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._lines: Queue[str] = Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            # The function's own log lines are JSON too: keep only the worker's protocol.
            if line.startswith(("ready", "paused", '{"result"', '{"error"')):
                self._lines.put(line.strip())

    def expect(self, wanted: str, timeout_s: float = 60.0) -> str:
        """Waits for the next protocol line, which must start with ``wanted``."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except Empty:
            raise AssertionError(f"worker said nothing within {timeout_s} s") from None
        assert line.startswith(wanted), line
        return line

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def outcomes(self, count: int, timeout_s: float = 120.0) -> list[dict[str, Any]]:
        """The next ``count`` invocation outcomes ({"result": ...} or {"error": ...})."""
        deadline = time.monotonic() + timeout_s
        return [
            json.loads(self.expect("{", max(0.1, deadline - time.monotonic())))
            for _ in range(count)
        ]

    def kill(self) -> None:
        """SIGKILL: no exception handler, no rollback, no socket shutdown by the client."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()


def worker_backends(conn: psycopg.Connection) -> list[tuple[int, str]]:
    """(pid, state) of the workers' database sessions."""
    rows: list[tuple[int, str]] = conn.execute(
        "SELECT pid, state FROM pg_stat_activity WHERE application_name = %s",
        (WORKER_APPLICATION_NAME,),
    ).fetchall()
    return rows


def wait_for(condition: Any, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class RestartablePostgres:
    """An embedded PostgreSQL in its own data directory, with a migrated database."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver

        self._server = pgserver.get_server(data_dir, cleanup_mode="stop")
        self.data_dir = data_dir
        server_url: str = self._server.get_uri()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("hksync_restart")))
        self.url = psycopg.conninfo.make_conninfo(server_url, dbname="hksync_restart")
        migrate(self.url)

    def crash(self) -> None:
        """Stops the server the hard way (immediate: no checkpoint, recovery on the next start),
        as a crash or a failover would."""
        from pgserver._commands import pg_ctl

        pg_ctl(
            ["-m", "immediate", "-w", "stop"], pgdata=self.data_dir, user=self._server.system_user
        )

    def start(self) -> None:
        with self._server._lock:
            self._server.ensure_postgres_running()

    def close(self) -> None:
        self._server.cleanup()
