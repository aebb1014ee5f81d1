"""The `hksync` command: the local stack, the simulator, and operations.

hksync local up                 serve the template's API on http://127.0.0.1:3000
hksync local token --user ID    a dev token for that stack
hksync local invoke FunctionId --event events/x.json
hksync simulate --url URL --token T (or --user ID against the local stack)
hksync demo                     local stack + simulated user + summary, then stop
hksync ops ...                  syncs, failures, anchors, dead letters, replay (hksync ops -h)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path.cwd()


def _local_up(arguments: argparse.Namespace) -> int:
    from hksync_tools.local.stack import LocalStack

    stack = LocalStack(PROJECT_ROOT, port=arguments.port, database_url=arguments.database_url)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    info = stack.start()
    try:
        print(f"hksync local stack: API {info.api_url}  (AWS endpoint {info.aws_endpoint_url})")
        print(f"  raw bucket {info.raw_bucket}; database {info.database_url}")
        print("  token: hksync local token --user <id>;  Ctrl-C stops everything")
        for spec in stack.functions.values():
            for route in spec.routes:
                print(f"  {route.method:6} {route.path:45} -> {spec.logical_id}")
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def _local_token(arguments: argparse.Namespace) -> int:
    from hksync_tools.local.auth import issue_token, sam_local_secret, signing_secret
    from hksync_tools.local.stack import default_state_dir

    if arguments.env_vars:
        secret = sam_local_secret(arguments.env_vars)
    else:
        secret = signing_secret(default_state_dir(PROJECT_ROOT))
    print(issue_token(arguments.user, secret, valid_for=timedelta(hours=arguments.hours)))
    return 0


def _local_invoke(arguments: argparse.Namespace) -> int:
    from hksync_tools.local.invoke import invoke_function

    event = json.loads(Path(arguments.event).read_text())
    result = invoke_function(PROJECT_ROOT, arguments.function, event)
    print(json.dumps(result, indent=2, default=str))
    return 0


def _simulate(arguments: argparse.Namespace) -> int:
    from hksync_tools.simulator.runner import run_and_report

    if arguments.url:
        if not arguments.token:
            print("--token is required with --url", file=sys.stderr)
            return 2
        url, token = arguments.url, arguments.token
    else:
        from hksync_tools.local.auth import issue_token, signing_secret
        from hksync_tools.local.stack import StackInfo, default_state_dir

        state = default_state_dir(PROJECT_ROOT) / "stack.json"
        if not state.exists():
            print(
                "no local stack is running: start `hksync local up`, or pass --url", file=sys.stderr
            )
            return 2
        url = StackInfo.load(state).api_url
        token = issue_token(arguments.user, signing_secret(default_state_dir(PROJECT_ROOT)))
    report = run_and_report(url, token, arguments.user, _simulation_options(arguments))
    return 0 if report.complete else 1


def _demo(arguments: argparse.Namespace) -> int:
    from hksync_tools.demo import run_demo

    return run_demo(
        PROJECT_ROOT, _simulation_options(arguments), database_url=arguments.database_url
    )


def _simulation_options(arguments: argparse.Namespace) -> dict[str, Any]:
    return {
        "days": arguments.days,
        "incremental_syncs": arguments.syncs,
        "hours_between": arguments.hours_between,
        "seed": arguments.seed,
        "chunk_size": arguments.chunk_size,
    }


def _add_simulation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", default="demo-user-0001", help="user id (the token's sub)")
    parser.add_argument("--days", type=int, default=30, help="backfill length in days")
    parser.add_argument("--syncs", type=int, default=3, help="incremental syncs after the backfill")
    parser.add_argument("--hours-between", type=float, default=8.0, help="hours between syncs")
    parser.add_argument("--seed", type=int, default=1, help="the simulated user's seed")
    parser.add_argument("--chunk-size", type=int, default=5000, help="samples per chunk")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hksync", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the local stack (no AWS, no Docker)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser("up", help="serve the API on 127.0.0.1 until Ctrl-C")
    up.add_argument("--port", type=int, default=3000)
    up.add_argument(
        "--database-url", default=None, help="use this PostgreSQL instead of the embedded one"
    )
    up.set_defaults(run=_local_up)
    token = local_commands.add_parser("token", help="print a dev token for the local stack")
    token.add_argument("--user", required=True)
    token.add_argument("--hours", type=float, default=12.0)
    token.add_argument(
        "--env-vars",
        type=Path,
        default=None,
        help="for `sam local`: sign with this env file's DEV_TOKEN_SECRET (events/env.json)",
    )
    token.set_defaults(run=_local_token)
    invoke = local_commands.add_parser(
        "invoke", help="invoke a function with an event, like `sam local invoke`"
    )
    invoke.add_argument("function", help="logical id in template.yaml, e.g. IngestFunction")
    invoke.add_argument(
        "--event", required=True, help="event file, e.g. events/ingest_put_chunk.json"
    )
    invoke.set_defaults(run=_local_invoke)

    simulate = commands.add_parser("simulate", help="upload a simulated Apple Watch user's data")
    simulate.add_argument("--url", help="API base URL (default: the running local stack)")
    simulate.add_argument("--token", help="bearer token for --url")
    _add_simulation_options(simulate)
    simulate.set_defaults(run=_simulate)

    demo = commands.add_parser(
        "demo", help="start the local stack, simulate a user, summarise, stop"
    )
    demo.add_argument("--database-url", default=None)
    _add_simulation_options(demo)
    demo.set_defaults(run=_demo)

    _add_ops_commands(commands)
    return parser


def _add_ops_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hksync_tools.ops.cli import add_ops_commands

    add_ops_commands(commands)


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    result: int = arguments.run(arguments)
    return result


if __name__ == "__main__":
    sys.exit(main())
