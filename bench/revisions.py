"""Earlier versions of the runtime package, read from git, to run beside today's in one process.

A comparison with an earlier version is only fair in the same process and the same minutes, so
the earlier code is not checked out: ``package_at`` writes shared/hksync as it was at a revision
into a temporary folder, as a package of its own name (``hksync_<revision>``) whose imports of
itself are renamed to match. Old and new modules, and their module-level state (caches, compiled
validators), then never mix, and each old module sees the old versions of the modules it
imports, as it did at that revision. Its migrations come along, so the old code gets a database
of the schema it was written for (BenchDatabase.fresh(name, migrate_with=...)).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Final, cast

from bench.harness import ROOT

PACKAGE_PATH: Final = "shared/hksync"
#: ``hksync`` as a name in code (``hksync.db``, ``import hksync``), not ``hksync_tools``.
_SELF_REFERENCE = re.compile(rb"\bhksync(?=[.\s])")


class Revision:
    """shared/hksync at ``revision``, importable as ``hksync_<revision>`` while the block runs."""

    def __init__(self, revision: str, root: Path) -> None:
        self.revision = revision
        self.name = f"hksync_{revision[:7]}"
        self.folder = root

    @property
    def short(self) -> str:
        return self.revision[:7]

    def module(self, dotted: str) -> types.ModuleType:
        """``dotted`` (e.g. "db.syncs") as it was at the revision."""
        return importlib.import_module(f"{self.name}.{dotted}")

    def migrate(self) -> Callable[[str], object]:
        """The revision's own migration runner, over the revision's own migration files."""
        return cast(Callable[[str], object], self.module("db.migrate").migrate)


def _archive(revision: str) -> bytes | None:
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "archive", "--format=tar", revision, PACKAGE_PATH],  # noqa: S607 - read-only git
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return completed.stdout if completed.returncode == 0 else None


@contextlib.contextmanager
def package_at(revision: str) -> Iterator[Revision | None]:
    """The package at ``revision`` (None when this clone's history lacks it). On exit its
    modules are dropped from sys.modules and its folder deleted."""
    archive = _archive(revision)
    if archive is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix=f"hksync-bench-{revision[:7]}-") as folder:
        found = Revision(revision, Path(folder))
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                relative = PurePosixPath(member.name).relative_to(PACKAGE_PATH)
                extracted = tar.extractfile(member)
                assert extracted is not None
                content = extracted.read()
                if relative.suffix == ".py":
                    content = _SELF_REFERENCE.sub(found.name.encode(), content)
                target = Path(folder, found.name, *relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        sys.path.insert(0, folder)
        try:
            yield found
        finally:
            sys.path.remove(folder)
            for name in [name for name in sys.modules if name.split(".")[0] == found.name]:
                del sys.modules[name]


_IMPORT_PROBE: Final = """
import importlib, json, sys, time
folder, module, *preloaded = sys.argv[1:]
if folder:
    sys.path.insert(0, folder)
for name in preloaded:
    importlib.import_module(name)
started = time.perf_counter()
importlib.import_module(module)
print(json.dumps({"ms": (time.perf_counter() - started) * 1000}))
"""


def import_ms(module: str, folder: Path | None = None, *, preloaded: Sequence[str] = ()) -> float:
    """Milliseconds a fresh interpreter takes to import ``module`` (from ``folder`` first, for a
    Revision's), once ``preloaded`` are imported: what the module itself costs a cold start."""
    completed = subprocess.run(  # noqa: S603 - our interpreter, our probe
        [sys.executable, "-c", _IMPORT_PROBE, str(folder or ""), module, *preloaded],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result["ms"]
