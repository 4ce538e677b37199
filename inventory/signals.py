"""What inventory tells the layers above it, without importing them.

`stock_changed` is sent inside the transaction that wrote a set of movements, with
`product_ids` (a set) and `now`: these products' stock changed. The channels listen and queue
their ATP push in that same transaction (channels.apps), so a committed movement always has its
push queued and a rolled-back one never does.
"""

from django.dispatch import Signal

stock_changed = Signal()
