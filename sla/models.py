"""SLA policies, clocks and escalations arrive with the SLA issue."""
