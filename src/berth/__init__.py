"""berth: a container engine that speaks the OCI and Docker formats and protocols."""

__version__ = "0.1.0"
