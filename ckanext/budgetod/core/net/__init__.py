"""Outbound HTTP under the portal's limits: address checks, timeouts, size caps."""
