from __future__ import annotations

import pytest

from berth.errors import InvalidArgument
from berth.runtime.users import lookup

PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\nuser:x:1000:1000::/home/user:/bin/sh\n"
GROUP = "root:x:0:\nwww:x:33:\ntty:x:5:user,www\nstaff:x:50:user\nuser:x:1000:\n"


def test_names_and_numbers() -> None:
    assert lookup("root", PASSWD, GROUP).uid == 0
    www = lookup("www", PASSWD, GROUP)
    assert (www.uid, www.gid, www.groups, www.home) == (33, 33, (5,), "/var/www")
    user = lookup("user:staff", PASSWD, GROUP)
    assert (user.uid, user.gid, user.groups) == (1000, 50, (5,))
    assert lookup("1000", PASSWD, GROUP).home == "/home/user"
    anon = lookup("4242:4343", PASSWD, GROUP)
    assert (anon.uid, anon.gid, anon.home) == (4242, 4343, "/")


def test_unknown_names_are_errors() -> None:
    with pytest.raises(InvalidArgument, match="unable to find user ghost"):
        lookup("ghost", PASSWD, GROUP)
    with pytest.raises(InvalidArgument, match="unable to find group nogroup"):
        lookup("user:nogroup", PASSWD, GROUP)
