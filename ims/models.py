"""Records kept by IMS about its own work."""

from django.conf import settings
from django.db import models


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
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"ingest {self.kind} {self.file_name} ({self.status})"
