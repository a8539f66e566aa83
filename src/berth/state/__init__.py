"""The SQLite metadata database: schema, migrations, transactions.

Each layer above keeps its own queries in its own package; this package owns the file,
the schema and the rules for changing it.
"""

from berth.state.db import Database, open_database

__all__ = ["Database", "open_database"]
