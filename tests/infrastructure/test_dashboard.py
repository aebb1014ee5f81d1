"""The operators' dashboard and alarms: every custom metric the code emits is on the dashboard
and every custom metric on the dashboard is emitted (the code side is checked against the same
catalogue by tests/integration/test_observability.py), and each alarm reaches the ops topic."""

from __future__ import annotations

import json
import re
from typing import Any

from hksync.observability import Metric
from tests.infrastructure.template import (
    resources_of_type,
)


def _dashboard(cfn: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = resources_of_type(cfn, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${Stage}, ${HttpApi}, ${X.Arn}...: CloudFormation fills them; any string will do here.
    return json.loads(re.sub(r"\$\{[^}]+\}", "resolved-by-cloudformation", body))


def _metric_rows(dashboard: dict[str, Any], *, expressions: bool = False) -> list[list[Any]]:
    """The widgets' metric rows; a row that is a metric-math expression only if asked."""
    return [
        row
        for widget in dashboard["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
        if isinstance(row[0], dict) == expressions
    ]


def test_the_dashboard_shows_exactly_the_metric_catalogue(cfn: dict[str, Any]) -> None:
    custom = {row[1] for row in _metric_rows(_dashboard(cfn)) if row[0] == "hksync"}

    assert custom == {metric.value for metric in Metric}


def test_chunk_failures_are_also_shown_by_reason(cfn: dict[str, Any]) -> None:
    expressions = [row[0]["expression"] for row in _metric_rows(_dashboard(cfn), expressions=True)]

    assert any("reason" in text and '"ChunkFailures"' in text for text in expressions)


def test_the_dashboard_shows_the_aws_metrics_that_matter(cfn: dict[str, Any]) -> None:
    shown = {(row[0], row[1]) for row in _metric_rows(_dashboard(cfn))}

    assert {
        ("AWS/ApiGateway", "Latency"),
        ("AWS/ApiGateway", "4xx"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "ConcurrentExecutions"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/RDS", "ServerlessDatabaseCapacity"),
        ("AWS/RDS", "DatabaseConnections"),
    } <= shown


def test_the_dashboard_lists_every_alarm(cfn: dict[str, Any]) -> None:
    (dashboard,) = resources_of_type(cfn, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]

    for name in resources_of_type(cfn, "AWS::CloudWatch::Alarm"):
        assert f"${{{name}.Arn}}" in body, name


def test_every_alarm_notifies_the_ops_topic(cfn: dict[str, Any]) -> None:
    alarms = resources_of_type(cfn, "AWS::CloudWatch::Alarm")
    watched = {alarm["Properties"].get("MetricName") or "expression" for alarm in alarms.values()}

    assert {
        "ApproximateNumberOfMessagesVisible",
        "5xx",
        "ProcessingLag",
        "DatabaseConnections",
        "expression",
    } <= watched
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "OpsAlarmTopic"}], name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name
