"""Peak memory of one processor invocation, in a process of its own (run by bench.processor).

    python -m bench.memory_probe CODE_DIR HANDLER BUCKET WARM_KEY KEY

Loads the handler with the environment it was given, invokes it on WARM_KEY (imports,
settings, clients and the database connection are then in place, as in a warm Lambda), reads
the resident set, resets its high-water mark, invokes it on KEY, reads the mark, and prints
both as JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path

from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.lambda_events import s3_put_event


def _status_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB. Unlike ru_maxrss, VmHWM starts afresh
    at exec, so the bench process's own size does not leak in."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Sets VmHWM back to the current RSS (Linux >= 4.0), so the next peak is this call's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def main(argv: list[str]) -> int:
    code_dir, handler_name, bucket, warm_key, key = argv
    with contextlib.redirect_stdout(io.StringIO()):
        handler = load_handler(Path(code_dir), handler_name)
        context = FakeLambdaContext("processor-probe")
        handler(s3_put_event(bucket, warm_key, size=1), context)
        idle = _status_mb("VmRSS")
        _reset_peak()
        started = time.perf_counter()
        result = handler(s3_put_event(bucket, key, size=1), context)
        seconds = time.perf_counter() - started
    outcome = result["results"][0]["outcome"]
    if outcome != "stored":
        print(f"the chunk was not stored: {result}", file=sys.stderr)
        return 1
    print(json.dumps({"idle_mb": idle, "peak_mb": _status_mb("VmHWM"), "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
