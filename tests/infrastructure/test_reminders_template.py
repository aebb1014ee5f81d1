"""The reminders part of template.yaml, checked offline on the transformed template: a schedule
group per stage, a scheduler role that can invoke the dispatcher and nothing else, failures
dead-lettered, least-privilege grants for both functions, and an encrypted topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hksync.contract.reminders import ReminderOccurrence
from hksync.reminder_upkeep import UPKEEP_TASK
from tests.infrastructure.template import (
    EVENTS_DIR,
    PLACEHOLDER,
    STAGES,
    Resolver,
    as_list,
    environment_of,
    load_sam_template,
    parameter_values,
    resources_of_type,
    role_documents,
    role_of,
    statements,
    to_cloudformation,
)

GROUP = {"Ref": "ReminderScheduleGroup"}
DLQ_ARN = {"Fn::GetAtt": ["ReminderDeadLetterQueue", "Arn"]}
DISPATCHER_ARN = {"Fn::GetAtt": ["DispatcherFunction", "Arn"]}
SCHEDULER_ROLE_ARN = {"Fn::GetAtt": ["ReminderSchedulerRole", "Arn"]}
DATA_KEY_ARN = {"Fn::GetAtt": ["DataKey", "Arn"]}


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    value: dict[str, Any] = template["Resources"][name]["Properties"]
    return value


def allows(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for d in documents for s in statements(d) if s["Effect"] == "Allow"]


def grants(documents: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(action, resource) of every Allow, resources as JSON text (intrinsics included)."""
    return {
        (action, json.dumps(resource, sort_keys=True))
        for statement in allows(documents)
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# ------------------------------------------------------------------------------------------
# The schedule group
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_one_schedule_group_per_stage(stage: str, sam: dict[str, Any]) -> None:
    template = to_cloudformation(sam, parameter_values(sam, stage))
    (group,) = resources_of_type(template, "AWS::Scheduler::ScheduleGroup").values()
    resolve = Resolver(template, parameter_values(sam, stage))
    assert resolve(group["Properties"]["Name"]) == f"hksync-reminders-{stage}"
    assert environment_of(template, "RemindersFunction")["REMINDER_SCHEDULE_GROUP"] == GROUP


def test_the_reminders_function_is_told_everything_a_schedule_needs(cfn: dict[str, Any]) -> None:
    environment = environment_of(cfn, "RemindersFunction")
    assert environment["DISPATCHER_FUNCTION_ARN"] == DISPATCHER_ARN
    assert environment["SCHEDULER_ROLE_ARN"] == SCHEDULER_ROLE_ARN
    assert environment["REMINDER_DLQ_ARN"] == DLQ_ARN
    assert environment["REMINDER_FLEXIBLE_WINDOW_MINUTES"] == {
        "Ref": "ReminderFlexibleWindowMinutes"
    }
    assert environment_of(cfn, "DispatcherFunction")["REMINDER_TOPIC_ARN"] == {
        "Ref": "ReminderTopic"
    }


# ------------------------------------------------------------------------------------------
# The role schedules run as
# ------------------------------------------------------------------------------------------
def test_only_scheduler_for_this_stages_group_assumes_the_scheduler_role(
    cfn: dict[str, Any],
) -> None:
    role = props(cfn, "ReminderSchedulerRole")
    (trust,) = statements(role["AssumeRolePolicyDocument"])
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    conditions = trust["Condition"]["StringEquals"]
    assert conditions["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert conditions["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:"
        "schedule-group/${ReminderScheduleGroup}"
    }
    assert not role.get("ManagedPolicyArns")


def test_the_scheduler_role_may_invoke_only_the_dispatcher(cfn: dict[str, Any]) -> None:
    documents = role_documents(cfn, "ReminderSchedulerRole")
    assert grants(documents) == {
        ("lambda:InvokeFunction", _json(DISPATCHER_ARN)),
        ("sqs:SendMessage", _json(DLQ_ARN)),
        ("kms:GenerateDataKey", _json(DATA_KEY_ARN)),
        ("kms:Decrypt", _json(DATA_KEY_ARN)),
    }
    (key,) = [s for s in allows(documents) if s["Resource"] == DATA_KEY_ARN]
    assert key["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}
    }
    # No other role can invoke the dispatcher, and nothing grants it a resource policy.
    for name in resources_of_type(cfn, "AWS::IAM::Role"):
        if name == "ReminderSchedulerRole":
            continue
        for statement in allows(role_documents(cfn, name)):
            if "lambda:InvokeFunction" in as_list(statement["Action"]):
                assert DISPATCHER_ARN not in as_list(statement["Resource"]), name
    for permission in resources_of_type(cfn, "AWS::Lambda::Permission").values():
        assert permission["Properties"]["FunctionName"] not in (
            {"Ref": "DispatcherFunction"},
            DISPATCHER_ARN,
        )


# ------------------------------------------------------------------------------------------
# The functions' grants
# ------------------------------------------------------------------------------------------
def test_the_reminders_function_manages_only_its_groups_schedules(cfn: dict[str, Any]) -> None:
    documents = role_documents(cfn, role_of(cfn, "RemindersFunction"))
    schedules = {
        "Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:"
        "schedule/${ReminderScheduleGroup}/*"
    }
    scheduler = {(a, r) for a, r in grants(documents) if a.startswith(("scheduler:", "iam:"))}
    assert scheduler == {
        ("scheduler:CreateSchedule", _json(schedules)),
        ("scheduler:UpdateSchedule", _json(schedules)),
        ("scheduler:DeleteSchedule", _json(schedules)),
        ("scheduler:GetSchedule", _json(schedules)),
        ("iam:PassRole", _json(SCHEDULER_ROLE_ARN)),
    }
    (pass_role,) = [s for s in allows(documents) if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    others = {a for a, _ in grants(documents)} - {a for a, _ in scheduler}
    # The database secret, and the upkeep's sweep of change events (test_change_events_template).
    assert others <= {"secretsmanager:GetSecretValue", "kms:Decrypt", "events:PutEvents"}


def test_the_dispatcher_publishes_to_the_topic_and_dead_letters_only(cfn: dict[str, Any]) -> None:
    documents = role_documents(cfn, role_of(cfn, "DispatcherFunction"))
    actions = {(a, r) for a, r in grants(documents) if not a.startswith("secretsmanager:")}
    assert actions == {
        ("sns:Publish", _json({"Ref": "ReminderTopic"})),
        ("sqs:SendMessage", _json(DLQ_ARN)),
        ("kms:GenerateDataKey", _json(DATA_KEY_ARN)),
        ("kms:Decrypt", _json(DATA_KEY_ARN)),
    }
    (key,) = [s for s in allows(documents) if "kms:GenerateDataKey" in as_list(s["Action"])]
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": [_sub("sns"), _sub("sqs")]}}


def _sub(service: str) -> Any:
    return {"Fn::Sub": f"{service}.${{AWS::Region}}.amazonaws.com"}


def test_both_functions_reach_the_database_from_the_vpc(cfn: dict[str, Any]) -> None:
    resolve = Resolver(cfn, parameter_values(load_sam_template(), "dev"))
    for function in ("RemindersFunction", "DispatcherFunction"):
        assert "VpcConfig" in props(cfn, function)
        assert resolve(environment_of(cfn, function)["DB_SECRET_ARN"]) == PLACEHOLDER
        assert props(cfn, function).get("ReservedConcurrentExecutions") is not None


# ------------------------------------------------------------------------------------------
# Failures, the topic
# ------------------------------------------------------------------------------------------
def test_failed_dispatcher_invocations_go_to_the_reminders_dead_letter_queue(
    cfn: dict[str, Any],
) -> None:
    (config,) = [
        c["Properties"]
        for c in resources_of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": "DispatcherFunction"}
    ]
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == DLQ_ARN
    queue = props(cfn, "ReminderDeadLetterQueue")
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert cfn["Resources"]["ReminderDeadLetterQueue"]["DeletionPolicy"] == "Retain"


def test_the_topic_is_encrypted_and_refuses_plain_http(cfn: dict[str, Any]) -> None:
    assert props(cfn, "ReminderTopic")["KmsMasterKeyId"] == {"Ref": "DataKey"}
    (policy,) = [
        policy
        for policy in resources_of_type(cfn, "AWS::SNS::TopicPolicy").values()
        if policy["Properties"]["Topics"] == [{"Ref": "ReminderTopic"}]
    ]
    (deny,) = statements(policy["Properties"]["PolicyDocument"])
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Topics"] == [{"Ref": "ReminderTopic"}]


def test_the_flexible_window_defaults_to_off(sam: dict[str, Any]) -> None:
    parameter = sam["Parameters"]["ReminderFlexibleWindowMinutes"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (0, 0, 1440)


# ------------------------------------------------------------------------------------------
# The dispatcher's sample event
# ------------------------------------------------------------------------------------------
def test_the_dispatcher_event_is_an_occurrence_of_the_create_events_reminder() -> None:
    occurrence = ReminderOccurrence.model_validate_json(
        (EVENTS_DIR / "dispatcher_occurrence.json").read_text()
    )
    create = json.loads((EVENTS_DIR / "reminders_create.json").read_text())
    body = json.loads(create["body"])
    assert str(occurrence.reminder_id) == body["reminder_id"]
    assert occurrence.user_id == create["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    assert occurrence.revision == 1


def test_the_reminders_upkeep_runs_every_hour(sam: dict[str, Any]) -> None:
    """hksync.reminder_upkeep: reconcile missing schedules, purge old ledger rows."""
    upkeep = sam["Resources"]["RemindersFunction"]["Properties"]["Events"]["Upkeep"]
    assert upkeep["Type"] == "Schedule"
    assert upkeep["Properties"]["Schedule"] == "rate(1 hour)"
    assert json.loads(upkeep["Properties"]["Input"]) == {"task": UPKEEP_TASK}
