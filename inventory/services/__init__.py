"""Inventory's services, one module per subject: `stock` (lock levels, then move), and the
flows built on it, `transfers` and `vendor_returns`.

Temporary: main splits the old `inventory/services.py` into this package (stock, ingest,
ledger) with an empty `__init__`; until that lands here, the old module lives whole in
`stock.py` and is re-exported so `from inventory.services import …` keeps working. On merge,
take main's `__init__.py` and `stock.py`."""

from inventory.services.stock import *  # noqa: F403
from inventory.services.stock import (  # noqa: F401
    INVENTORY_COLUMNS,
    LOCATIONS_COLUMNS,
    LOCATIONS_OPTIONAL,
)
