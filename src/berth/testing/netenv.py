"""Taking down what a test's berth root brought up in the kernel for its networks."""

from __future__ import annotations

import sqlite3


def teardown_networks(env: dict[str, str]) -> None:
    """Bridges, the nft table, the DNS server and the sandbox folder's mount of the root
    in ``env`` (BERTH_ROOT, BERTH_RUN and its BERTH_NET_* names)."""
    from berth.network import NetworkConfig, NetworkManager
    from berth.state import open_database

    root = env["BERTH_ROOT"]
    db = open_database(root)
    try:
        NetworkManager(db, root, env["BERTH_RUN"], config=NetworkConfig.from_env(env)).teardown()
    except sqlite3.OperationalError as err:
        if "no such table" not in str(err):  # a root that never used networks
            raise
    finally:
        db.close()
