"""Fixtures for the connectors: adapter configs with credentials in a private environment."""

from __future__ import annotations

import pytest

from channels.adapters.base import AdapterConfig
from tests.fakes.clock import VirtualClock


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def config():
    """config(kind, **secrets) → an AdapterConfig for channel `shop` with those secrets."""

    def make(kind: str, base_url: str = "https://provider.test", currency: str = "USD", **secrets):
        prefix = "IMS_CHANNEL_SHOP_"
        return AdapterConfig(
            code="shop",
            kind=kind,
            base_url=base_url,
            currency=currency,
            env_prefix=prefix,
            environ={prefix + name.upper(): value for name, value in secrets.items()},
        )

    return make
