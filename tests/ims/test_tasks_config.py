"""The background workers' timeout and retry: set on purpose, and refused when they contradict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_a_task_is_delivered_again_only_after_the_longest_task_may_have_ended():
    q = settings.Q_CLUSTER
    assert (q["timeout"], q["retry"], q["max_attempts"]) == (3600, 3660, 3)


def test_a_retry_shorter_than_the_timeout_is_refused_at_start():
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "IMS_Q_TIMEOUT": "600",
        "IMS_Q_RETRY": "300",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "IMS_Q_RETRY (300) must be more than IMS_Q_TIMEOUT (600)" in done.stderr
