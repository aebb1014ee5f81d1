"""The two layers, checked without AWS, Docker or the network.

- The shared-code layer is built with its own Makefile, the way `sam build` runs it (in a
  scratch copy of shared/hksync), and every function is then imported from that layer alone:
  a module the layer lacks fails here, not at a cold start in AWS. It is shared/hksync copied
  whole, and that is exactly the modules the functions import: the developer tooling is the
  separate hksync_tools package.
- The dependencies layer's requirements.txt pins every runtime dependency, transitive ones
  included, at the versions the tests run with (requirements/dev.lock).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pytest_socket import disable_socket

from tests.infrastructure.template import (
    ROOT,
    Resolver,
    apply_conditions,
    environment_of,
    load_sam_template,
    parameter_values,
    resources_of_type,
    to_cloudformation,
)

DEPENDENCIES = ROOT / "layers" / "dependencies"
#: Lambda's python3.12 on arm64, for evaluating dependency markers.
LAMBDA_ENVIRONMENT = {
    **default_environment(),
    "implementation_name": "cpython",
    "platform_machine": "aarch64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "platform_python_implementation": "CPython",
}
_IMPORT_EVERY_FUNCTION = """
import importlib.util, json, sys
for name, path in json.loads(sys.argv[1]).items():
    spec = importlib.util.spec_from_file_location(f"function_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(json.dumps(sorted(
    module.__file__ for name, module in sys.modules.items()
    if (name == "hksync" or name.startswith("hksync.")) and getattr(module, "__file__", None)
)))
"""


@pytest.fixture(scope="module")
def hksync_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """layers/hksync/Makefile run as sam build runs it: in a scratch copy of ContentUri."""
    scratch = tmp_path_factory.mktemp("scratch")
    artifacts = tmp_path_factory.mktemp("artifacts")
    shutil.copytree(ROOT / "shared" / "hksync", scratch, dirs_exist_ok=True)
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(ROOT / "layers" / "hksync" / "Makefile"),
            "build-HksyncLayer",
            f"ARTIFACTS_DIR={artifacts}",
        ],
        cwd=scratch,
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


@pytest.fixture(scope="module")
def function_environments() -> dict[str, dict[str, str]]:
    """Each function's environment in the dev deploy, as the settings models will read it."""
    disable_socket()
    sam = load_sam_template()
    parameters = parameter_values(sam, "dev")
    deployed = apply_conditions(to_cloudformation(sam, parameters), parameters)
    resolve = Resolver(deployed, parameters)
    return {
        name: {key: str(resolve(value)) for key, value in environment_of(deployed, name).items()}
        for name in resources_of_type(deployed, "AWS::Lambda::Function")
    }


def _layer_modules(layer: Path) -> set[str]:
    return {str(path.relative_to(layer)) for path in layer.rglob("*.py")}


def test_the_shared_code_layer_is_the_runtime_package_whole(hksync_layer: Path) -> None:
    package = hksync_layer / "hksync"
    assert [p.name for p in hksync_layer.iterdir()] == ["hksync"]
    source = ROOT / "shared" / "hksync"
    shipped = {p.relative_to(package) for p in package.rglob("*") if p.is_file()}
    expected = {
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped == expected
    assert not list(package.rglob("__pycache__"))
    # What the migration runner reads with importlib.resources, and what marks it typed.
    assert sorted(p.name for p in (package / "db" / "migrations").glob("*.sql"))
    assert (package / "py.typed").exists()


def test_every_function_imports_from_the_layers_alone(
    hksync_layer: Path, function_environments: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """Each handler module loads with the layer on the path and no other hksync: the same
    sys.path Lambda gives it (/opt/python from the layers, the function's own folder)."""
    sam = load_sam_template()
    handlers = {
        name: str(ROOT / sam["Resources"][name]["Properties"]["CodeUri"] / "app.py")
        for name in function_environments
    }
    environment: dict[str, str] = {"PATH": os.environ.get("PATH", "")}
    for variables in function_environments.values():
        environment.update(variables)
    environment.update(
        {
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_REGION": "eu-central-1",
            # Third-party packages from this environment: the dependencies layer's job,
            # checked below against its requirements. -S keeps this venv's .pth files (and so
            # the editable install of hksync) out of the path.
            "PYTHONPATH": os.pathsep.join([str(hksync_layer), sysconfig.get_paths()["purelib"]]),
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", _IMPORT_EVERY_FUNCTION, json.dumps(handlers)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    imported = json.loads(completed.stdout.strip().splitlines()[-1])
    outside = [path for path in imported if not path.startswith(str(hksync_layer))]
    assert not outside, f"imported from outside the layer: {outside}"

    # ...and the layer is exactly what they import: anything else is dead weight in every
    # function (developer tooling belongs in tools/hksync_tools).
    used = {str(Path(path).relative_to(hksync_layer)) for path in imported}
    unused = sorted(_layer_modules(hksync_layer) - used)
    assert not unused, f"the layer ships modules no function imports: {unused}"


# ------------------------------------------------------------------------------------------
# The dependencies layer
# ------------------------------------------------------------------------------------------
def _pins(requirements: Path) -> dict[str, str]:
    pattern = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.MULTILINE)
    return {canonicalize_name(n): v for n, v in pattern.findall(requirements.read_text())}


def _runtime_closure() -> dict[str, str]:
    """The runtime dependencies of pyproject.toml, with everything they need on Lambda's
    python3.12/arm64, at the versions installed here (requirements/dev.lock)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    import tomllib

    wanted = [Requirement(r) for r in tomllib.loads(pyproject)["project"]["dependencies"]]
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    queue: list[Requirement] = list(wanted)
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        distribution = metadata.distribution(name)
        found[name] = distribution.version
        for text in distribution.requires or []:
            dependency = Requirement(text)
            marker = dependency.marker
            if marker is None or any(
                marker.evaluate({**LAMBDA_ENVIRONMENT, "extra": extra}) for extra in extras | {""}
            ):
                queue.append(dependency)
    return found


def test_the_dependencies_layer_pins_every_runtime_dependency_at_the_tested_version() -> None:
    pins = _pins(DEPENDENCIES / "requirements.txt")
    closure = _runtime_closure()
    hint = "regenerate it: make layer-requirements"
    assert set(pins) == set(closure), (
        f"layers/dependencies/requirements.txt is out of date ({hint}): "
        f"missing {sorted(set(closure) - set(pins))}, extra {sorted(set(pins) - set(closure))}"
    )
    differ = {name: (pins[name], closure[name]) for name in pins if pins[name] != closure[name]}
    assert not differ, f"pinned vs tested versions differ ({hint}): {differ}"


def test_the_dependencies_layer_installs_only_hashed_wheels_for_lambda_arm64() -> None:
    requirements = (DEPENDENCIES / "requirements.txt").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", requirements.split("\n", 2)[-1]):
        if "==" in block:
            assert "--hash=sha256:" in block, block.splitlines()[0]
    makefile = (DEPENDENCIES / "Makefile").read_text()
    for flag in (
        "--require-hashes",
        "--no-deps",
        "--only-binary=:all:",
        "--platform manylinux_2_28_aarch64",
        "--platform manylinux2014_aarch64",
        "--python-version 3.12",
        "--implementation cp",
        "--abi cp312",
        "--no-compile",
    ):
        assert flag in makefile, flag
