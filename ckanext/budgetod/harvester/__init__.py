"""Harvesting TOTEM budget documents from where communities publish them."""
