"""Register every background schedule; safe to run again (it updates, never duplicates)."""

import datetime as dt
import os

from django.utils import timezone
from django_q.models import Schedule

from ims.management.base import AuditedCommand

# name → (function, schedule type, minutes, next run at hh:mm UTC or None)
SCHEDULES = {
    "nightly reconcile and reports": (
        "reconcile.tasks.reconcile_task",
        Schedule.DAILY,
        None,
        (2, 0),
    ),
    "prices in force": ("catalog.tasks.prices_refresh_task", Schedule.MINUTES, 5, None),
    "nightly ledger check": ("orders.tasks.ledger_check_task", Schedule.DAILY, None, (3, 0)),
    "webhook inbox retry": ("orders.tasks.inbox_retry_task", Schedule.MINUTES, 5, None),
    # The safety net for lost webhooks (and Flipkart's intake): orders changed since the cursor.
    "order poll": (
        "orders.tasks.orders_poll_task",
        Schedule.MINUTES,
        int(os.environ.get("IMS_ORDER_POLL_EVERY_MINUTES", "5")),
        None,
    ),
    # Amazon's ORDER_CHANGE notifications, read from each channel's SQS queue (long polling,
    # at most 50 s a run); a message is deleted once its delivery is stored in the inbox.
    "order queues (Amazon SQS)": ("orders.tasks.order_queues_task", Schedule.MINUTES, 1, None),
    "expire unconfirmed reservations": (
        "orders.tasks.reservations_expire_task",
        Schedule.MINUTES,
        5,
        None,
    ),
    "fill backorders": ("orders.tasks.backorders_fill_task", Schedule.MINUTES, 5, None),
    "channel sync (each channel in its mode)": (
        "channels.tasks.sync_task",
        Schedule.MINUTES,
        int(os.environ.get("IMS_SYNC_EVERY_MINUTES", "15")),
        None,
    ),
    "pending stock pushes": ("channels.tasks.sync_pending_all_task", Schedule.MINUTES, 1, None),
    # A sync whose worker was killed is marked interrupted, so the page shows it and syncs go on.
    "interrupted syncs": ("channels.tasks.sync_runs_sweep_task", Schedule.MINUTES, 1, None),
    "SLA sweep": ("sla.tasks.sla_sweep_task", Schedule.MINUTES, 1, None),
    "customer messages": (
        "notifications.tasks.customer_notifications_send_task",
        Schedule.MINUTES,
        1,
        None,
    ),
    # Each ERP source's night (pull or file pick-up, reset, reconcile, reports) at its own time.
    "ERP sources nightly": ("erp.tasks.erp_nightly_due_task", Schedule.MINUTES, 10, None),
}


class Command(AuditedCommand):
    help = "Create or update the django-q2 schedules IMS runs (run the workers with `manage.py qcluster`)."

    def handle(self, *args, **options):
        now = timezone.now()
        for name, (func, kind, minutes, at) in SCHEDULES.items():
            next_run = now
            if at:
                next_run = now.replace(hour=at[0], minute=at[1], second=0, microsecond=0)
                if next_run <= now:
                    next_run += dt.timedelta(days=1)
            schedule, created = Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": kind, "minutes": minutes, "repeats": -1},
            )
            if created or schedule.next_run is None or schedule.next_run < now:
                schedule.next_run = next_run
                schedule.save(update_fields=["next_run"])
            self.stdout.write(
                f"{'created' if created else 'updated'}: {name} → {func} ({schedule.get_schedule_type_display()})"
            )
        self.stdout.write(f"{len(SCHEDULES)} schedules registered")
