"""Background entry points for the catalog."""

from django.utils import timezone

from catalog.services.prices import prices_refresh


def prices_refresh_task() -> int:
    """Bring every product's offer price to the one in force now (effective dates reached)."""
    return prices_refresh(now=timezone.now())
