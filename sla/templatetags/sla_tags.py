import datetime as dt

from django import template

register = template.Library()


@register.filter
def duration(value: dt.timedelta | None) -> str:
    """2d 3:05, or −0:20 when overdue."""
    if value is None:
        return "—"
    sign = "−" if value < dt.timedelta(0) else ""
    minutes = int(abs(value).total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    text = f"{minutes // 60}:{minutes % 60:02d}"
    return f"{sign}{days}d {text}" if days else f"{sign}{text}"


@register.filter
def overdue(value: dt.timedelta | None) -> str:
    """How far past due, without a sign: 1d 4:00."""
    return duration(-value if value is not None else None)
