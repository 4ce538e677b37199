"""What the sync engine tells the layers above it, without importing them.

`sync_reading` is sent by a sync of a live channel (channels.sync.engine.sync_channel) just
before it reads the channel's listings, with `channel`, `adapter` (the run's own, which then
reads and pushes) and `now`. The orders layer listens (orders.apps): a channel whose own point
of sale sells without orders IMS receives (Square) has those sales recorded first, so the plan
counts them and the counts pushed never write them over. A receiver must not raise.
"""

from django.dispatch import Signal

sync_reading = Signal()
