"""The host's resolver settings as a container can use them."""

from __future__ import annotations


def host_resolv_conf() -> str:
    """The host's resolv.conf without loopback nameservers: 127.0.0.53 and friends are
    not reachable from a container's own network namespace."""
    try:
        with open("/etc/resolv.conf") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    kept = [ln for ln in lines
            if not (ln.startswith("nameserver") and ln.split()[1:2] and ln.split()[1].startswith(("127.", "::1")))]
    return "\n".join(kept) + "\n"
