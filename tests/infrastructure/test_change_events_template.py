"""The change events' part of template.yaml (docs/change-events.md), checked offline on the
transformed template: one encrypted bus per stage, the key usable by EventBridge for that bus
only, PutEvents on it for the processor and the upkeep and for nothing else, and the endpoint
that lets the private subnets reach EventBridge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hksync.settings import ProcessorSettings, RemindersSettings
from tests.infrastructure.template import (
    ACCOUNT_ID,
    DEPLOY_REGION,
    STAGES,
    Resolver,
    apply_conditions,
    as_list,
    environment_of,
    parameter_values,
    resources_of_type,
    role_documents,
    role_of,
    statements,
    to_cloudformation,
)

BUS_ARN = {"Fn::GetAtt": ["ChangeEventBus", "Arn"]}
#: The functions that publish change events, and the settings model each loads.
PUBLISHERS = {"ProcessorFunction": ProcessorSettings, "RemindersFunction": RemindersSettings}


def deployed(sam: dict[str, Any], stage: str, **overrides: str) -> tuple[dict[str, Any], Resolver]:
    parameters = parameter_values(sam, stage, **overrides)
    template = apply_conditions(to_cloudformation(sam, parameters), parameters)
    return template, Resolver(template, parameters)


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    value: dict[str, Any] = template["Resources"][name]["Properties"]
    return value


@pytest.mark.parametrize("stage", STAGES)
def test_one_bus_per_stage_encrypted_with_the_stacks_key(stage: str, sam: dict[str, Any]) -> None:
    template, resolve = deployed(sam, stage)

    (bus,) = resources_of_type(template, "AWS::Events::EventBus")
    assert bus == "ChangeEventBus"
    assert resolve(props(template, bus)["Name"]) == f"hksync-changes-{stage}"
    assert props(template, bus)["KmsKeyIdentifier"] == {"Fn::GetAtt": ["DataKey", "Arn"]}


@pytest.mark.parametrize("stage", STAGES)
def test_eventbridge_may_use_the_key_for_this_stages_bus_only(
    stage: str, sam: dict[str, Any]
) -> None:
    template, resolve = deployed(sam, stage)
    bus_name = resolve(props(template, "ChangeEventBus")["Name"])

    (grant,) = [
        statement
        for statement in statements(props(template, "DataKey")["KeyPolicy"])
        if statement["Principal"] == {"Service": "events.amazonaws.com"}
    ]

    assert set(as_list(grant["Action"])) == {
        "kms:DescribeKey",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    assert resolve(grant["Condition"]) == {
        "StringEquals": {
            "aws:SourceAccount": ACCOUNT_ID,
            # Built from the bus's name (the bus refers to the key): it must be this bus.
            "aws:SourceArn": f"arn:aws:events:{DEPLOY_REGION}:{ACCOUNT_ID}:event-bus/{bus_name}",
        }
    }


def _event_grants(template: dict[str, Any], function: str) -> set[tuple[str, str]]:
    """(action, resource as JSON) of every EventBridge action the function's role is allowed."""
    return {
        (action, json.dumps(resource, sort_keys=True))
        for document in role_documents(template, role_of(template, function))
        for statement in statements(document)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if action.startswith("events:")
        for resource in as_list(statement["Resource"])
    }


@pytest.mark.parametrize("mode", ["direct", "queue"])
def test_only_the_processor_and_the_upkeep_publish_and_only_to_the_bus(
    sam: dict[str, Any], mode: str
) -> None:
    template, _ = deployed(sam, "dev", ProcessingMode=mode)

    for function in resources_of_type(template, "AWS::Lambda::Function"):
        expected = (
            {("events:PutEvents", json.dumps(BUS_ARN, sort_keys=True))}
            if function in PUBLISHERS
            else set()
        )
        assert _event_grants(template, function) == expected, function


@pytest.mark.parametrize(("function", "settings"), PUBLISHERS.items())
def test_the_publishers_are_told_the_bus_their_settings_require(
    function: str, settings: type[ProcessorSettings | RemindersSettings], cfn: dict[str, Any]
) -> None:
    assert settings.model_fields["event_bus_name"].is_required()
    assert environment_of(cfn, function)["EVENT_BUS_NAME"] == {"Ref": "ChangeEventBus"}


def test_the_private_subnets_reach_eventbridge_through_an_endpoint(sam: dict[str, Any]) -> None:
    created, resolve = deployed(sam, "dev")
    endpoint = props(created, "EventsEndpoint")

    assert resolve(endpoint["ServiceName"]) == f"com.amazonaws.{DEPLOY_REGION}.events"
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["PrivateDnsEnabled"] is True
    assert endpoint["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    assert endpoint["SecurityGroupIds"] == [{"Fn::GetAtt": ["EndpointSecurityGroup", "GroupId"]}]
    # With an existing VPC its routes are the operator's (the parameter's description says so).
    existing, _ = deployed(
        sam,
        "dev",
        ExistingVpcId="vpc-0a1b2c3d4e5f60718",
        ExistingPrivateSubnetIds="subnet-0a1b2c3d4e5f60718,subnet-0b1c2d3e4f5061728",
    )
    assert "EventsEndpoint" not in existing["Resources"]
    assert "EventBridge" in sam["Parameters"]["ExistingPrivateSubnetIds"]["Description"]


def test_the_outputs_name_the_bus_for_consumers(cfn: dict[str, Any]) -> None:
    outputs = cfn["Outputs"]
    assert outputs["ChangeEventBusName"]["Value"] == {"Ref": "ChangeEventBus"}
    assert outputs["ChangeEventBusArn"]["Value"] == BUS_ARN
