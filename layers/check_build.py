"""Checks what `sam build` produced in .aws-sam/build: arm64 artifacts for Lambda's python3.12.

`make build` runs this after `sam build`, because a wrong build fails quietly: pip given the
wrong platform tag picks an older or an x86_64 wheel, and nothing breaks until a cold start in
AWS. Exit status 1 names every problem found.

    python layers/check_build.py [.aws-sam/build]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: ELF header: magic, 64-bit class at byte 4, machine at bytes 18-19 (little-endian).
_ELF_MAGIC = b"\x7fELF"
_ELFCLASS64 = 2
_EM_AARCH64 = 183
_EXTENSION_SUFFIX = re.compile(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.MULTILINE)
ROOT = Path(__file__).resolve().parents[1]


def elf_problem(path: Path) -> str | None:
    """Why a shared object cannot load on Lambda arm64 (None when it can)."""
    header = path.read_bytes()[:20]
    if header[:4] != _ELF_MAGIC:
        return None  # not ELF: a linker script or data file that happens to end in .so
    if header[4] != _ELFCLASS64:
        return "not a 64-bit ELF object"
    machine = int.from_bytes(header[18:20], "little")
    if machine != _EM_AARCH64:
        return f"built for ELF machine {machine}, not aarch64 ({_EM_AARCH64})"
    suffix = _EXTENSION_SUFFIX.search(path.name)
    if suffix and (suffix[1], suffix[2]) != ("312", "aarch64"):
        return f"an extension for cpython-{suffix[1]}-{suffix[2]}, not cpython-312-aarch64"
    return None


def pinned_versions(requirements: Path) -> dict[str, str]:
    return {_normalise(name): version for name, version in _PIN.findall(requirements.read_text())}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions(site: Path) -> dict[str, str]:
    versions = {}
    for dist_info in site.glob("*.dist-info"):
        name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
        versions[_normalise(name)] = version
    return versions


def check(build_dir: Path) -> list[str]:
    problems: list[str] = []
    dependencies = build_dir / "DependenciesLayer" / "python"
    hksync = build_dir / "HksyncLayer" / "python" / "hksync"
    for required in (build_dir / "template.yaml", dependencies, hksync):
        if not required.exists():
            problems.append(f"{required} is missing: did `sam build` run?")
    if problems:
        return problems

    shared_objects = sorted(dependencies.rglob("*.so*"))
    if not shared_objects:
        problems.append(f"{dependencies}: no shared objects at all (psycopg-binary has some)")
    for path in shared_objects:
        problem = elf_problem(path) if path.is_file() else None
        if problem:
            problems.append(f"{path.relative_to(build_dir)}: {problem}")

    pinned = pinned_versions(ROOT / "layers" / "dependencies" / "requirements.txt")
    installed = installed_versions(dependencies)
    for name, version in sorted(pinned.items()):
        if installed.get(name) != version:
            problems.append(f"{name}=={version} is pinned, the layer has {installed.get(name)}")

    for layer in (dependencies, hksync):
        compiled = [p for p in layer.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
        if compiled:
            problems.append(f"{layer}: bytecode built on this machine: {compiled[0]}")
    # The layer is the runtime package alone (the tooling is the hksync_tools package).
    extra = sorted(p.name for p in hksync.parent.iterdir() if p.name != "hksync")
    if extra:
        problems.append(f"HksyncLayer ships more than the hksync package: {extra}")
    if not (hksync / "db" / "migrations").is_dir():
        problems.append("HksyncLayer has no hksync/db/migrations: migrations cannot run")
    return problems


def main(argv: list[str]) -> int:
    build_dir = Path(argv[1]) if len(argv) > 1 else ROOT / ".aws-sam" / "build"
    problems = check(build_dir)
    for problem in problems:
        print(f"check_build: {problem}", file=sys.stderr)
    if not problems:
        objects = len(list((build_dir / "DependenciesLayer").rglob("*.so*")))
        print(f"check_build: {build_dir}: {objects} shared objects, all aarch64 for cpython-312")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
