"""berth's DNS: container names on user-defined networks, other names forwarded.

One server process per berth run root (``server.py``) listens on the gateway address
of every network with DNS (UDP and TCP port 53). It reads names from the state
database on each query, so connecting a container needs no message to it; creating or
removing a network asks it to re-read its listening addresses over a control socket
(``control.py``). It exits when no network with DNS is left.
"""
