"""What every HTTP server of berth shares (the registry's, and ``berth serve``'s):
serving an aiohttp application under a connection cap, header and idle timeouts
(:mod:`berth.httpserve.guard`), and logging a condition once rather than every event
of it (:mod:`berth.httpserve.condlog`).

It imports ``berth.errors`` and aiohttp only, so any front end may use it.
"""

from berth.httpserve.condlog import ConditionLog
from berth.httpserve.guard import GuardedServer, Limits, raise_open_files_limit

__all__ = ["ConditionLog", "GuardedServer", "Limits", "raise_open_files_limit"]
