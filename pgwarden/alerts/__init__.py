"""Alerting: built-in rules, the alert lifecycle, channels and escalation.

:func:`evaluate_once` reads collected data (and live inputs the collector does not
keep), runs the rule pack, moves alerts pending -> firing -> acknowledged -> resolved,
and notifies the channels and the person on call.
"""

from pgwarden.alerts.channels import Delivery, Retry, deliver
from pgwarden.alerts.evaluate import Evaluation, evaluate_once
from pgwarden.alerts.lifecycle import Escalation, Policy, step
from pgwarden.alerts.model import Alert, Notice, Observation
from pgwarden.alerts.mute import MaintenanceWindow, Mutes, Silence
from pgwarden.alerts.rules import BUILTIN, RULES, Rule

__all__ = [
    "BUILTIN",
    "RULES",
    "Alert",
    "Delivery",
    "Escalation",
    "Evaluation",
    "MaintenanceWindow",
    "Mutes",
    "Notice",
    "Observation",
    "Policy",
    "Retry",
    "Rule",
    "Silence",
    "deliver",
    "evaluate_once",
    "step",
]
