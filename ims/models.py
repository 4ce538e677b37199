"""Records kept by IMS about its own work."""

from django.conf import settings
from django.db import models


def optional_user_fk(on_delete) -> models.ForeignKey:
    """A link to the person who did something (none for the system), with no reverse accessor."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=on_delete, null=True, blank=True, related_name="+"
    )


class IngestStatus(models.TextChoices):
    APPLIED = "applied"
    REJECTED = "rejected"


class IngestRun(models.Model):
    """One `ingest` of a file: what it was, what it changed, or why it was refused."""

    kind = models.CharField(max_length=16)
    file_name = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=IngestStatus.choices)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    kept_out = models.PositiveIntegerField(default=0)
    # The first problems found (a rejected file), or the rows kept out.
    messages = models.JSONField(default=list, blank=True)
    actor = optional_user_fk(models.SET_NULL)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"ingest {self.kind} {self.file_name} ({self.status})"


class AuditQuerySet(models.QuerySet):
    """The audit trail is append-only: bulk updates and deletes are refused too."""

    def update(self, **kwargs):
        raise PermissionError("the audit trail cannot be changed")

    def delete(self):
        raise PermissionError("the audit trail cannot be deleted")


class AuditEvent(models.Model):
    """One recorded change: who did what to which object, when, before/after, why, from where.

    Append-only: the application refuses to change or delete a row, and on
    PostgreSQL database triggers refuse UPDATE, DELETE and TRUNCATE (see `manage.py db_roles`
    for the roles that keep the application from switching them off)."""

    at = models.DateTimeField(db_index=True)
    actor = optional_user_fk(models.PROTECT)
    # The actor's name when it acted (kept if the user is renamed); `system` for IMS itself.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=40)  # indexed (audit_action), for equality
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    # Where the change came from: `web 127.0.0.1 POST /exceptions/…`, `api …`, `command ingest`, `task …`.
    origin = models.CharField(max_length=255, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object"),
            # Filtered by whole actions only (a db_index=True would add a LIKE index too).
            models.Index(fields=["action"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("the audit trail cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the audit trail cannot be deleted")


class Notification(models.Model):
    """A message to one user in the app (and, when sent, by email)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40)
    subject = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.subject}"


class TaskStatus(models.TextChoices):
    OPEN = "open"
    DONE = "done"


class OpsTask(models.Model):
    """Work for a person: an audit task for a blocked price, an SLA breach for a store, a leak to look into.

    Assigned to a role (everyone holding it sees it), optionally to one user and a location."""

    kind = models.CharField(max_length=40, db_index=True)
    title = models.CharField(max_length=255)
    detail = models.TextField(blank=True)
    role = models.CharField(max_length=40, blank=True, help_text="the role that should act")
    assignee = optional_user_fk(models.SET_NULL)
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What it is about, as `kind:id` (exception:12, order:55, price:9 …).
    ref = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = optional_user_fk(models.SET_NULL)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "ref"],
                condition=models.Q(status="open") & ~models.Q(ref=""),
                name="one_open_task_per_kind_and_ref",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title} ({self.status})"
