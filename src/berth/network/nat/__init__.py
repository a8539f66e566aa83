"""Packet rewriting and filtering for bridge networks, as nftables scripts (data)."""
