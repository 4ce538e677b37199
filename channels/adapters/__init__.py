"""Channel adapters, one module per provider; the registry maps Channel.kind to its adapter.

A channel without a base_url has no live connection: it is read from its last
snapshot and, in push mode, its changes go out through the file adapter.
"""

from __future__ import annotations

import os
from importlib import import_module

ADAPTERS: dict[str, str] = {
    "shopify": "channels.adapters.shopify.ShopifyAdapter",
    "amazon": "channels.adapters.amazon.AmazonAdapter",
    "woocommerce": "channels.adapters.woocommerce.WooCommerceAdapter",
    "bigcommerce": "channels.adapters.bigcommerce.BigCommerceAdapter",
    "flipkart": "channels.adapters.flipkart.FlipkartAdapter",
    "square": "channels.adapters.square.SquareAdapter",
    "lightspeed": "channels.adapters.lightspeed.LightspeedAdapter",
    "file": "channels.adapters.files.FileAdapter",
}
FILE_ADAPTER = "file"


def adapter_class(kind: str):
    path = ADAPTERS.get(kind, ADAPTERS[FILE_ADAPTER])
    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


def adapter_for(channel, **options):
    """The adapter for a channel: its kind's connector when it has a base_url, else the file drop."""
    from channels.adapters.base import AdapterConfig

    config = AdapterConfig.of(channel)
    kind = channel.kind if channel.base_url else FILE_ADAPTER
    return adapter_class(kind)(config, **options)


# Channels whose orders also arrive on a queue the channel's provider fills (Amazon's SP-API
# notifications on SQS), read when IMS_CHANNEL_<CODE>_SQS_QUEUE_URL is set.
QUEUES: dict[str, str] = {"amazon": "channels.adapters.sqs.SqsQueue"}


def queue_configured(channel, *, environ=None) -> bool:
    """A channel whose kind reads a queue and whose queue URL is set."""
    environ = os.environ if environ is None else environ
    return channel.kind in QUEUES and bool(environ.get(channel.env_prefix + "SQS_QUEUE_URL"))


def queue_for(channel, **options):
    """The channel's order queue (ChannelNotConfigured names what is missing)."""
    from channels.adapters.base import AdapterConfig

    module, name = QUEUES[channel.kind].rsplit(".", 1)
    return getattr(import_module(module), name)(AdapterConfig.of(channel), **options)


def is_live(channel) -> bool:
    """Read live through its adapter at the start of every sync (else: the last snapshot)."""
    return bool(channel.base_url) and channel.kind in ADAPTERS and channel.kind != FILE_ADAPTER
