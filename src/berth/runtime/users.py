"""User and group names resolved inside the container, from its own /etc/passwd and
/etc/group, as Docker resolves ``--user name[:group]`` against the image.

``lookup`` is pure: it takes the files' text, so it is tested without a container.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class ResolvedUser:
    """A user name (and group) resolved against the container's own files."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def _entries(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def lookup(spec: str, passwd: str, group: str) -> ResolvedUser:
    """``name``, ``uid``, ``name:group``, ``uid:gid`` … → numbers, supplementary groups, home.

    A numeric uid missing from /etc/passwd is allowed (gid then defaults to 0), as in
    Docker; a name that is missing is an error.
    """
    user_part, _, group_part = spec.partition(":")
    users = _entries(passwd)
    groups = _entries(group)
    uid, gid, home, name = -1, 0, "/", ""
    for entry in users:
        if len(entry) >= 4 and (entry[0] == user_part or entry[2] == user_part):
            name, uid, gid = entry[0], int(entry[2]), int(entry[3])
            home = entry[5] if len(entry) > 5 and entry[5] else "/"
            break
    else:
        if not user_part.isdigit():
            raise InvalidArgument(f"unable to find user {user_part}: no matching entries in passwd file")
        uid = int(user_part)
    if group_part:
        for entry in groups:
            if len(entry) >= 3 and (entry[0] == group_part or entry[2] == group_part):
                gid = int(entry[2])
                break
        else:
            if not group_part.isdigit():
                raise InvalidArgument(f"unable to find group {group_part}: no matching entries in group file")
            gid = int(group_part)
    extra = []
    if name:
        for entry in groups:
            if len(entry) >= 4 and name in entry[3].split(",") and int(entry[2]) != gid:
                extra.append(int(entry[2]))
    return ResolvedUser(uid, gid, tuple(sorted(set(extra))), home)


def read_or_empty(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
