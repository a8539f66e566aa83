"""berth's OCI Distribution registry: ``berth registry serve``.

It imports only ``berth.oci`` and ``berth.errors`` from berth, and runs alone.
"""
