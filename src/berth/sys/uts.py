"""Host and domain names of the current UTS namespace."""

from __future__ import annotations

from berth.sys._libc import call, libc


def sethostname(name: str) -> None:
    raw = name.encode()
    call(lambda: int(libc.sethostname(raw, len(raw))), "sethostname", None, name)


def setdomainname(name: str) -> None:
    raw = name.encode()
    call(lambda: int(libc.setdomainname(raw, len(raw))), "setdomainname", None, name)
