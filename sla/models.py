"""SLA policies (what an admin edits), business calendars, clocks and their escalations.

A policy says, per channel (or as the default for every channel) and per kind, how long
the work may take, when to warn, and whom to tell at which point (the ladder). A clock is
one piece of work of one order (or return) under one policy: it starts and stops with the
order's events; the sweep fires its warning, breach and ladder steps, each exactly once
(unique on (clock, key)).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from channels.models import Channel
from ims.roles import Role
from inventory.models import Location


class SlaKind(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", "order acknowledgement"
    DISPATCH = "dispatch", "dispatch"
    DELIVERY = "delivery", "delivery confirmation"
    RETURN = "return", "return processing"


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"'{value}' is not an IANA time zone (e.g. Europe/Paris)") from exc


class BusinessCalendar(models.Model):
    """When a location works: opening hours per weekday in its own time zone, public holidays
    (the `holidays` library, by country and subdivision) and its own closed days. A policy
    that counts business hours pauses its clocks outside them."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="calendar")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO 3166 code for public holidays (US, IN, FR …)"
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="state or region for public holidays (NY, MH …)"
    )

    def __str__(self) -> str:
        return f"calendar of {self.location_id} ({self.timezone})"

    def clean(self) -> None:
        if self.holiday_country:
            import holidays

            try:
                holidays.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision or None
                )
            except NotImplementedError as exc:
                raise ValidationError({"holiday_country": str(exc)}) from exc


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(models.Model):
    """One opening span on a weekday, in local time (two rows for a split day)."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        verbose_name_plural = "opening hours"
        ordering = ["calendar", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")), name="hours_close_after_open"
            ),
            models.UniqueConstraint(
                fields=["calendar", "weekday", "opens"], name="hours_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class ClosedDay(models.Model):
    """A day the location does not work besides public holidays (inventory day, a local fête)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="closed_days"
    )
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="closed_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class SlaPolicy(models.Model):
    """The target of one kind of work on one channel (no channel: the default for all)."""

    channel = models.ForeignKey(
        Channel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        help_text="empty: the default for every channel without its own policy of this kind",
    )
    kind = models.CharField(max_length=16, choices=SlaKind.choices)
    target = models.DurationField(help_text="how long the work may take (e.g. 2:00:00)")
    business_hours = models.BooleanField(
        default=False,
        help_text="count only the fulfilling location's opening hours (its calendar); "
        "otherwise round the clock",
    )
    warning_pct = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="warn when this share of the target has passed",
    )
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["kind", "channel"]
        permissions = [("manage_slapolicy", "Can manage SLA policies and calendars")]
        constraints = [
            models.UniqueConstraint(
                Coalesce("channel", 0), F("kind"), name="one_sla_policy_per_channel_and_kind"
            ),
            models.CheckConstraint(condition=Q(target__gt=dt.timedelta(0)), name="sla_target"),
            models.CheckConstraint(
                condition=Q(warning_pct__gte=1, warning_pct__lte=99), name="sla_warning_pct"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.channel or 'every channel'}: {self.target}"

    @property
    def warning_after(self) -> dt.timedelta:
        return self.target * self.warning_pct / 100


class Anchor(models.TextChoices):
    START = "start", "after the start"
    WARNING = "warning", "after the warning"
    BREACH = "breach", "after the breach"


class Recipient(models.TextChoices):
    LOCATION = "location", "the fulfilling location's staff"
    ROLE = "role", "everyone holding a role"
    USER = "user", "one person"


class EscalationStep(models.Model):
    """A rung of the ladder: at `offset` after the anchor, tell the recipient (once per clock).
    Offsets count in the policy's clock (business hours when the policy uses them)."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    anchor = models.CharField(max_length=8, choices=Anchor.choices, default=Anchor.BREACH)
    offset = models.DurationField(default=dt.timedelta(0))
    recipient = models.CharField(max_length=8, choices=Recipient.choices)
    role = models.CharField(max_length=40, blank=True, choices=[(r.value, r.value) for r in Role])
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_step_unique"),
            models.CheckConstraint(
                condition=Q(offset__gte=dt.timedelta(0)), name="escalation_offset"
            ),
            models.CheckConstraint(
                condition=(Q(recipient="role") & ~Q(role=""))
                | (Q(recipient="user") & Q(user__isnull=False))
                | Q(recipient="location"),
                name="escalation_recipient_named",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offset} {self.get_anchor_display()}: {self.recipient_label}"

    @property
    def recipient_label(self) -> str:
        if self.recipient == Recipient.ROLE:
            return self.role
        if self.recipient == Recipient.USER:
            return f"user {self.user}" if self.user_id else "a user"
        return "store staff"

    def clean(self) -> None:
        if self.recipient == Recipient.ROLE and not self.role:
            raise ValidationError({"role": "name the role to tell"})
        if self.recipient == Recipient.USER and not self.user_id:
            raise ValidationError({"user": "name the person to tell"})


class LocationStaff(models.Model):
    """Who works at a location: the people a `location` ladder step tells (a location
    without anyone named falls back to every Store Staff user)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name_plural = "location staff"
        constraints = [
            models.UniqueConstraint(fields=["location", "user"], name="location_staff_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.location_id}"


class ClockStatus(models.TextChoices):
    RUNNING = "running"
    MET = "met"
    BREACHED = "breached", "breached (stopped late)"
    CANCELLED = "cancelled"


class SlaClock(models.Model):
    """One clock of one order (or one customer return) under one policy.

    `warn_at` and `due_at` are computed when it starts (business-hour arithmetic in the
    location's time zone), `next_at` is the next moment the sweep has something to do for it
    (a warning, the breach, a ladder step); null once nothing is left. `breached_at` is set when
    it passes `due_at` while running; `elapsed` is its counted duration once stopped.
    """

    # Indexed as the first column of one_sla_clock_per_order_kind.
    order = models.ForeignKey(
        "orders.ChannelOrder", on_delete=models.CASCADE, related_name="sla_clocks", db_index=False
    )
    customer_return = models.ForeignKey(
        "orders.CustomerReturn",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_clocks",
    )
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="clocks")
    kind = models.CharField(max_length=16, choices=SlaKind.choices)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(
        Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=ClockStatus.choices, default=ClockStatus.RUNNING
    )
    started_at = models.DateTimeField()
    warn_at = models.DateTimeField()
    due_at = models.DateTimeField()
    next_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    elapsed = models.DurationField(null=True, blank=True)
    # The business-hours flag and target in force when it started (policy edits apply to new clocks).
    target = models.DurationField()
    business_hours = models.BooleanField(default=False)

    class Meta:
        verbose_name = "SLA clock"
        ordering = ["due_at", "id"]
        permissions = [("act_slaclock", "Can acknowledge orders and close SLA tasks")]
        constraints = [
            # One clock per kind per order (per return for return processing).
            models.UniqueConstraint(
                F("order"),
                Coalesce("customer_return", 0),
                F("kind"),
                name="one_sla_clock_per_order_kind",
            ),
            models.CheckConstraint(
                condition=Q(status="running", stopped_at__isnull=True)
                | (~Q(status="running") & Q(stopped_at__isnull=False)),
                name="sla_clock_stopped_iff_not_running",
            ),
        ]
        indexes = [
            # What the sweep reads: running clocks by their next due moment.
            models.Index(
                fields=["next_at"],
                condition=Q(status="running", next_at__isnull=False),
                name="sla_clock_due",
            ),
            models.Index(fields=["status", "due_at"], name="sla_clock_status"),
            models.Index(fields=["breached_at"], name="sla_clock_breached"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} clock of order {self.order_id} ({self.status})"


class Point(models.TextChoices):
    WARNING = "warning"
    BREACH = "breach"
    STEP = "step", "ladder step"


class SlaEscalation(models.Model):
    """A point of a clock that fired: its warning, its breach, or one ladder step. Unique per
    (clock, key) — `warning`, `breach`, `step:<id>` — so overlapping sweeps fire it once."""

    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="escalations")
    key = models.CharField(max_length=24)
    point = models.CharField(max_length=8, choices=Point.choices)
    step = models.ForeignKey(
        EscalationStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField()
    recipients = models.TextField(blank=True, help_text="who was told, as usernames")

    class Meta:
        ordering = ["clock", "due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clock", "key"], name="sla_escalation_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key} of clock {self.clock_id} at {self.fired_at:%Y-%m-%d %H:%M}"
