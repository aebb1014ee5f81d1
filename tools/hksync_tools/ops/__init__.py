"""Operator commands: inspect syncs and failures, dead-letter queues, replays."""
