"""Writes for orders, one module per subject:

inbox        webhook deliveries: verified, stored raw, processed at most once, replayed
intake       a provider event applied: a new order received and reserved at once
reservation  cancellations, backorders (decided, filled), expiry, unknown SKUs
fulfilment   dispatch and delivery
returns      customer returns
state        an order's lock, status, customer messages and life events, shared by all
"""
