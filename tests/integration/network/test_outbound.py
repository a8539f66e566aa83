"""Outbound traffic is masqueraded to the uplink's address; --internal networks stay in."""

from __future__ import annotations

import subprocess
import time

import pytest

from .conftest import Lab, forwarding_blocked

ECHO_PEER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 7000)); s.listen(); s.settimeout(20)\n"
    "while True:\n"
    "    c, a = s.accept(); c.sendall(('peer ' + a[0] + '\\n').encode()); c.close()\n"
)


@pytest.mark.skipif(bool(forwarding_blocked()), reason=forwarding_blocked() or "-")
def test_outbound_is_masqueraded_to_the_uplink_address(lab: Lab) -> None:
    lab.nm.create("app")
    lab.nm.create("vault", internal=True)
    outside = lab.uplink()
    outside.python(ECHO_PEER)
    box = lab.box("box", "app")
    hidden = lab.box("hidden", "vault")
    for _ in range(50):
        seen = box.sh(f"nc -w 2 {outside.FAR} 7000", timeout=10).stdout
        if seen:
            break
        time.sleep(0.1)
    # the outside namespace has no route back to the container subnet: the reply could
    # only come because the source was rewritten to the host's uplink address
    assert seen.strip() == f"peer {outside.HOST}"
    # --internal: no default route, and even a container that adds one gets nowhere
    assert "Network is unreachable" in hidden.sh(f"nc -w 2 {outside.FAR} 7000").stderr
    vault = lab.nm.get("vault")
    subprocess.run(["nsenter", f"--net={hidden.netns}", "ip", "route", "add", "default", "via", str(vault.gateway)],
                   check=True)
    assert hidden.sh(f"nc -w 2 {outside.FAR} 7000", timeout=10).stdout == ""
