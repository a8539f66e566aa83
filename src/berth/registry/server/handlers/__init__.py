"""HTTP handlers, one module per resource; routing and access live in ``app.py``."""
