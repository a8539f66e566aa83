"""The ``berth`` command: one module per verb; parse, call the layers below, print."""
