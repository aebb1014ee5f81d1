"""template.yaml as data: the SAM template, its CloudFormation transform, lint, and resolvers.

Everything here works offline. The SAM transform is samtranslator's own (the code behind
``AWS::Serverless-2016-10-31``); the only AWS call it can make is listing IAM managed policies
for a name it does not ship in its bundled map, and :class:`OfflineManagedPolicyLoader` turns
that call into an error instead.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs
from cfnlint.api import lint as cfn_lint
from cfnlint.decode import cfn_yaml
from cfnlint.match import Match
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
EVENTS_DIR = ROOT / "events"

#: What an intrinsic function that only CloudFormation can evaluate (a resource's Ref or
#: attribute, a condition) stands for when a test needs a concrete value.
PLACEHOLDER = "resolved-by-cloudformation"
DEPLOY_REGION = "eu-central-1"
ACCOUNT_ID = "123456789012"
STAGES = ("dev", "staging", "prod")

#: Parameters without a default: what CI would have to pass to ``sam deploy
#: --parameter-overrides``. None: the stack creates its VPC, Aurora and secret, and samconfig.toml
#: holds every per-stage value.
DEPLOY_TIME_PARAMETERS: dict[str, str] = {}

#: Services whose actions touch data; nobody gets them on "*".
DATA_SERVICES = frozenset({"s3", "sqs", "secretsmanager", "kms", "dynamodb"})


# ------------------------------------------------------------------------------------------
# Loading, transforming, linting
# ------------------------------------------------------------------------------------------
def load_sam_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template with CloudFormation's short tags (!Ref, !Sub...) as their long forms.

    cfn-lint's loader is used because it knows every tag and leaves global YAML state alone; the
    JSON round trip turns its position-carrying nodes into plain dicts, lists and strings.
    """
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


class OfflineManagedPolicyLoader(ManagedPolicyLoader):
    """A managed policy loader that never calls IAM.

    samtranslator resolves AWS managed policy names (AWSLambdaBasicExecutionRole...) from the
    map it ships with; it asks the loader, which lists IAM policies, only for a name missing
    from that map. In the tests that means the template names a policy the transform cannot
    resolve offline: refer to it by ARN instead.
    """

    def __init__(self) -> None:
        super().__init__(iam_client=None)

    def load(self) -> dict[str, str]:
        raise LookupError(
            "the template names an AWS managed policy that samtranslator does not know offline; "
            "use its ARN (arn:${AWS::Partition}:iam::aws:policy/...)"
        )


def with_s3_artifacts(sam_template: dict[str, Any]) -> dict[str, Any]:
    """A copy whose local CodeUri/ContentUri are S3 URIs, as `sam package` leaves them.

    The transform accepts only S3 locations; `sam validate` makes the same substitution.
    """
    packaged = copy.deepcopy(sam_template)
    for resource in packaged.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            location = properties.get(key)
            if isinstance(location, str) and not location.startswith("s3://"):
                properties[key] = f"s3://hksync-artifacts/{location.strip('/')}"
    return packaged


def to_cloudformation(
    sam_template: dict[str, Any], parameter_values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The plain CloudFormation template the SAM transform makes of ``sam_template``."""
    with pytest.MonkeyPatch.context() as env:
        # The transform takes the region (and from it the partition of managed policy ARNs)
        # from the boto3 session: make it the deploy region, whatever the developer's profile.
        env.setenv("AWS_DEFAULT_REGION", DEPLOY_REGION)
        env.delenv("AWS_REGION", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        return transform(
            with_s3_artifacts(sam_template),
            dict(parameter_values or {}),
            OfflineManagedPolicyLoader(),
        )


def lint(template: dict[str, Any] | str) -> list[Match]:
    """cfn-lint's findings for a template (YAML/JSON text or already-loaded data)."""
    text = template if isinstance(template, str) else json.dumps(template)
    return cfn_lint(text, config=ManualArgs(regions=[DEPLOY_REGION]))


def describe(match: Match) -> str:
    return f"{match.rule.id} line {match.linenumber}: {match.message}"


# ------------------------------------------------------------------------------------------
# samconfig.toml and parameter values
# ------------------------------------------------------------------------------------------
def load_samconfig(path: Path = SAMCONFIG_PATH) -> dict[str, Any]:
    with path.open("rb") as file:
        return tomllib.load(file)


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """``Stage=dev Name="a b"`` -> ``{"Stage": "dev", "Name": "a b"}`` (SAM CLI's syntax)."""
    return dict(part.split("=", 1) for part in shlex.split(text))


def parameter_values(
    sam_template: dict[str, Any], environment: str, **overrides: str
) -> dict[str, str]:
    """What CloudFormation gets in a samconfig environment: the template's defaults, the
    values CI passes for parameters without a default, samconfig's overrides, and then
    ``overrides`` (what an operator would add on the command line)."""
    values = {
        name: str(spec["Default"])
        for name, spec in sam_template.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update(DEPLOY_TIME_PARAMETERS)
    configured = load_samconfig()[environment]["deploy"]["parameters"]["parameter_overrides"]
    values.update(parse_parameter_overrides(configured))
    values.update(overrides)
    return values


def pseudo_parameters(stage: str) -> dict[str, str]:
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": DEPLOY_REGION,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": f"hksync-{stage}",
    }


# ------------------------------------------------------------------------------------------
# Resolving intrinsic functions (enough of them for environment variables and ARNs)
# ------------------------------------------------------------------------------------------
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::FindInMap and Fn::Sub against parameter values.

    Pseudo parameters get the values of a deploy of ``hksync-<Stage>`` in DEPLOY_REGION; a
    bucket with an explicit BucketName resolves to that name (Ref) and ARN (Fn::GetAtt .Arn).
    Any other resource reference or intrinsic function becomes PLACEHOLDER.
    """

    def __init__(self, template: dict[str, Any], parameters: Mapping[str, str]):
        self.mappings: dict[str, Any] = template.get("Mappings", {})
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.values: dict[str, str] = {**pseudo_parameters(parameters["Stage"]), **parameters}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self(item) for key, item in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._name(argument)
        if function == "Fn::GetAtt":
            name, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._resource(name, attribute)
        if function == "Fn::FindInMap":
            name, first, second = (self(part) for part in argument)
            return self.mappings[name][first][second]
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            local = {key: str(self(item)) for key, item in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                return local[name] if name in local else self._name(name)

            # "${!Literal}" is how Fn::Sub writes a literal "${Literal}".
            return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")
        if function.startswith("Fn::") or function == "Condition":
            return PLACEHOLDER
        return {function: self(argument)}

    def _name(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        resource, _, attribute = name.partition(".")
        return self._resource(resource, attribute or None)

    def _resource(self, name: str, attribute: str | None = None) -> str:
        resource = self.resources.get(name, {})
        bucket_name = resource.get("Properties", {}).get("BucketName")
        if resource.get("Type") == "AWS::S3::Bucket" and bucket_name is not None:
            bucket = self(bucket_name)
            if attribute is None:
                return str(bucket)
            if attribute == "Arn":
                return f"arn:{self.values['AWS::Partition']}:s3:::{bucket}"
        return PLACEHOLDER


# ------------------------------------------------------------------------------------------
# Reading the transformed template
# ------------------------------------------------------------------------------------------
def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def environment_of(template: dict[str, Any], function: str) -> dict[str, Any]:
    """A Lambda function's variables, Globals merged (the transform merges them)."""
    properties = template["Resources"][function]["Properties"]
    return dict(properties.get("Environment", {}).get("Variables", {}))


def role_of(template: dict[str, Any], function: str) -> str:
    role = template["Resources"][function]["Properties"]["Role"]
    assert isinstance(role, dict), f"{function}: its role is not in the template"
    assert "Fn::GetAtt" in role, f"{function}: its role is not in the template"
    return str(role["Fn::GetAtt"][0])


def if_branches(value: Any) -> list[Any]:
    """Every value an ``Fn::If`` can take (both branches, nested ones too, AWS::NoValue
    dropped); a value that is not an ``Fn::If`` is its own only branch."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        return if_branches(when_true) + if_branches(when_false)
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def inline_policies(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """A role's inline policies, conditional ones (``Fn::If``) included."""
    return [policy for item in properties.get("Policies", []) for policy in if_branches(item)]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity policy document in the template, with where it is."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in inline_policies(properties):
                yield f"{name}/{policy.get('PolicyName')}", policy["PolicyDocument"]
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            yield name, properties["PolicyDocument"]


def role_documents(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The documents a role holds: inline ones and the template's managed policies it attaches
    (AWS managed policies, by ARN, are not in the template)."""
    properties = template["Resources"][role]["Properties"]
    documents = [policy["PolicyDocument"] for policy in inline_policies(properties)]
    for arn in properties.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn:
            documents.append(template["Resources"][arn["Ref"]]["Properties"]["PolicyDocument"])
    for resource in resources_of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in resource["Properties"].get("Roles", []):
            documents.append(resource["Properties"]["PolicyDocument"])
    return documents


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document.get("Statement", []))


def broad_grants(statement: dict[str, Any]) -> list[str]:
    """Why an identity policy statement grants too much ([] when it does not)."""
    if statement.get("Effect") != "Allow":
        return []
    problems = []
    if "NotAction" in statement:
        problems.append("NotAction in an Allow grants everything else")
    if "NotResource" in statement:
        problems.append("NotResource in an Allow grants every other resource")
    actions = [action for action in as_list(statement.get("Action", [])) if isinstance(action, str)]
    for action in actions:
        service, _, name = action.partition(":")
        if action == "*" or (service.lower() in DATA_SERVICES and name == "*"):
            problems.append(f"action {action!r}")
    touches_data = any(
        action == "*" or action.partition(":")[0].lower() in DATA_SERVICES for action in actions
    )
    if touches_data and "*" in as_list(statement.get("Resource", [])):
        problems.append(f"resource '*' for {sorted(actions)}")
    return problems


def http_api_routes(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``"PUT /v1/..."`` -> the OpenAPI operation of every route of the (single) HTTP API."""
    (api,) = resources_of_type(template, "AWS::ApiGatewayV2::Api").values()
    return {
        f"{method.upper()} {path}": operation
        for path, operations in api["Properties"]["Body"]["paths"].items()
        for method, operation in operations.items()
    }


def integration_function(operation: dict[str, Any]) -> str:
    """The logical id of the function a route's Lambda proxy integration invokes."""
    uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    match = re.search(r"/functions/\$\{(\w+)\.Arn\}/invocations", uri)
    assert match, f"not a Lambda proxy integration: {uri}"
    return match.group(1)


# ------------------------------------------------------------------------------------------
# Conditions: the template as deployed with given parameter values
# ------------------------------------------------------------------------------------------
def evaluate_conditions(template: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, bool]:
    """Every condition's value for these parameters (Fn::Equals/Not/And/Or, Condition)."""
    resolve = Resolver(template, parameters)
    definitions: dict[str, Any] = template.get("Conditions", {})
    values: dict[str, bool] = {}

    def evaluate(expression: Any) -> bool:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return condition(argument)
        if function == "Fn::Equals":
            left, right = (resolve(part) for part in argument)
            return bool(left == right)
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function == "Fn::And":
            return all(evaluate(part) for part in argument)
        if function == "Fn::Or":
            return any(evaluate(part) for part in argument)
        raise ValueError(f"unsupported condition function {function}")

    def condition(name: str) -> bool:
        if name not in values:
            values[name] = evaluate(definitions[name])
        return values[name]

    return {name: condition(name) for name in definitions}


_NO_VALUE = object()


def apply_conditions(template: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template as CloudFormation would deploy it with these parameters: resources and
    outputs whose condition is false are gone, every ``Fn::If`` is replaced by its chosen
    branch, and ``AWS::NoValue`` removes its key or list item."""
    conditions = evaluate_conditions(template, parameters)

    def choose(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Fn::If"}:
                name, when_true, when_false = value["Fn::If"]
                return choose(when_true if conditions[name] else when_false)
            if value == {"Ref": "AWS::NoValue"}:
                return _NO_VALUE
            chosen = {key: choose(item) for key, item in value.items()}
            return {key: item for key, item in chosen.items() if item is not _NO_VALUE}
        if isinstance(value, list):
            return [item for item in (choose(item) for item in value) if item is not _NO_VALUE]
        return value

    deployed = copy.deepcopy(template)
    for section in ("Resources", "Outputs"):
        deployed[section] = {
            name: choose(body)
            for name, body in template.get(section, {}).items()
            if conditions.get(body.get("Condition", ""), True)
        }
    return deployed


# ------------------------------------------------------------------------------------------
# `python -m tests.infrastructure.template STAGE MODE`: the transformed template, for cfn-lint
# ------------------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    """Prints the plain CloudFormation template of a samconfig stage in a processing mode
    (`make validate` lints it with cfn-lint, the SAM CLI's version)."""
    stage, mode = argv
    sam_template = load_sam_template()
    parameters = parameter_values(sam_template, stage, ProcessingMode=mode)
    print(json.dumps(to_cloudformation(sam_template, parameters), indent=1))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
