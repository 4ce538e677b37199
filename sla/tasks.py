"""Background entry point of the SLA engine (django-q2, every minute): the sweep."""

from __future__ import annotations

from dataclasses import asdict

from ims.audit import audit_origin
from sla.services import sla_sweep


def sla_sweep_task() -> dict:
    with audit_origin("task sla_sweep"):
        return asdict(sla_sweep())
