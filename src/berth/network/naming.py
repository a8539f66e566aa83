"""Names and identifiers of networks, endpoints and their kernel objects.

Linux interface names hold at most 15 bytes. Host-side veth names are ``vb`` (the
configured prefix) + random hex digits, recorded in the endpoint's row before the link is made (so a crashed
``berth`` finds them from the rows alone); random rather than derived from the ids, so
a container reconnected at once never meets its previous veth, which the kernel may
still be destroying.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection

from berth.errors import InvalidArgument

IFNAMSIZ = 15
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_IFNAME = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_DNS_LABEL = re.compile(r"^[a-zA-Z0-9_]([a-zA-Z0-9_.-]{0,253})$")


def new_id() -> str:
    """64 hex digits, like Docker's network and endpoint ids."""
    return os.urandom(32).hex()


def check_network_name(name: str) -> str:
    if not _NAME.match(name) or len(name) > 128:
        raise InvalidArgument(f"invalid network name {name!r}: use letters, digits, '_', '.', '-' "
                              "and start with a letter or digit")
    return name


def check_ifname(name: str) -> str:
    if not _IFNAME.match(name) or name in (".", ".."):
        raise InvalidArgument(f"invalid interface name {name!r}: 1-15 of letters, digits, '_', '.', '-'")
    return name


def check_alias(alias: str) -> str:
    if not _DNS_LABEL.match(alias):
        raise InvalidArgument(f"invalid network alias {alias!r}")
    return alias


def bridge_name(prefix: str, network_id: str) -> str:
    return check_ifname(prefix + network_id[: IFNAMSIZ - len(prefix)][:12])


def host_ifname(prefix: str = "vb") -> str:
    """``prefix`` + random hex digits, 15 bytes at most."""
    return check_ifname(prefix + os.urandom((IFNAMSIZ - len(prefix)) // 2).hex()[:12])


def container_ifname(taken: Collection[str]) -> str:
    """eth0, eth1...: the first name no other endpoint of the container uses."""
    n = 0
    while f"eth{n}" in taken:
        n += 1
    return f"eth{n}"


def random_mac() -> str:
    """A random unicast, locally administered address (02:xx:...)."""
    raw = bytearray(os.urandom(6))
    raw[0] = (raw[0] & 0xFC) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


def check_mac(mac: str) -> str:
    if not _MAC.match(mac):
        raise InvalidArgument(f"invalid mac address {mac!r}: use six hex pairs, 02:42:ac:11:00:02")
    if int(mac[:2], 16) & 0x01:
        raise InvalidArgument(f"invalid mac address {mac}: a multicast address")
    return mac.lower()
