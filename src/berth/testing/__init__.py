"""Fakes, fixtures and helpers berth ships for its own tests and for tools built on it."""
