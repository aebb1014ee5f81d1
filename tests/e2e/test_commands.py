"""The README's run command and `hksync local up`, as a person runs them: they finish (or stop
on Ctrl-C) and leave no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import PROJECT_ROOT


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(f"{proc.name}: {command}")
    return found


def _environment(state_dir: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment["HKSYNC_STATE_DIR"] = str(state_dir)
    return environment


@pytest.mark.slow
def test_demo_succeeds_prints_a_consistent_summary_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "hksync_tools.cli", "demo", "--days", "2", "--syncs", "1"],
        cwd=PROJECT_ROOT,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "consistent" in completed.stdout
    assert "INCONSISTENT" not in completed.stdout
    assert "stack stopped" in completed.stdout
    assert _processes_mentioning(str(tmp_path)) == []


@pytest.mark.slow
def test_local_up_serves_until_interrupted_then_stops_everything(tmp_path: Path) -> None:
    port = 38000 + os.getpid() % 1000
    server = subprocess.Popen(
        [sys.executable, "-m", "hksync_tools.cli", "local", "up", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "stack.json").exists():
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.2)
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/anchors")
        assert answer.status_code == 401  # up, and the authorizer is on
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    assert not (tmp_path / "stack.json").exists()
    assert _processes_mentioning(str(tmp_path)) == []
