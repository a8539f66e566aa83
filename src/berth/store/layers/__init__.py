"""Layer archives: apply a layer tar to a folder, and diff a folder back to a layer tar.

The small API the store, the build system and the engine share::

    from berth.store import layers
    result = layers.apply(stream, dest, "gzip", lowers=[...])   # ApplyResult(diff_id, size, entries)
    stream = layers.diff(upper, lowers)                           # a readable tar stream
    result = layers.write_diff(upper, lowers, sink)               # DiffResult(diff_id, size, entries)
    layers.changes(upper, lowers)                                 # [("A", "/etc/foo"), …]
"""

from berth.store.layers.apply import ApplyResult, apply, clean_name
from berth.store.layers.diff import DiffResult, changes, diff, write_diff

__all__ = ["ApplyResult", "DiffResult", "apply", "changes", "clean_name", "diff", "write_diff"]
