"""Containers: create/start/stop/exec/logs/inspect, the per-container shim, volumes,
events, health and restart. ``Engine`` (engine.py) is the facade the CLI and the REST
API call."""
