"""The admin's ModelAdmins are found when the URLs load or the admin checks run, not at
start-up (ims.apps.AdminConfig): commands and workers start without them, and neither the
admin site nor `manage.py check` misses one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.core import checks

ROOT = Path(__file__).resolve().parents[2]


def test_a_command_starts_without_importing_the_admin_modules():
    code = (
        "import sys, django; django.setup(); "
        "print(sorted(m for m in ('catalog.admin', 'erp.admin', 'rest_framework.generics') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"DJANGO_SETTINGS_MODULE": "ims.settings", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]"


def test_the_admin_checks_see_every_apps_model_admins():
    from django.contrib import admin

    from catalog.models import Product
    from erp.models import ErpSource
    from sla.models import SlaPolicy

    assert checks.run_checks(tags=[checks.Tags.admin]) == []
    assert {Product, ErpSource, SlaPolicy} <= set(admin.site._registry)
