"""berth.registry.client: pull, push, login and logout against any OCI registry.

    from berth.registry.client import Session, pull_image, push_image, Reference
    with Session() as session:                       # credentials from ~/.docker/config.json
        result = pull_image(store, session, Reference.parse("127.0.0.1:5000/app:1"))
        push_image(store, session, Reference.parse("127.0.0.1:5000/app:2"))

Modules, each owning one thing:

    api.py          the Resolver protocol, the descriptor walk, token scopes
    hosts.py        which address serves a registry; HTTPS, or HTTP for insecure ones
    credentials.py  Docker's config.json (auths, credential helpers)
    auth.py         WWW-Authenticate challenges, Basic and Bearer tokens, token cache
    session.py      HTTP (httpx): ping, endpoint fallback, authorization, retries
    errors.py       registry answers → berth's error classes
    resolver.py     the distribution-spec endpoints: resolve, fetch, push, mount
    fetch.py        resumable blob downloads, and a reader that follows them
    pull.py         pull: platform choice, parallel downloads, unpacking as bytes arrive
    push.py         push: HEAD, cross-repository mount, streamed upload, manifest
    platforms.py    choosing an image index's entry for a platform
    sources.py      which repositories hold a blob (for mounts)
    progress.py     Docker's output: rich rows on a terminal, plain lines elsewhere
    account.py      login and logout

Importing this package is cheap: httpx and rich load only when a pull, push or login
starts (the names below resolve lazily).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from berth.oci.reference import Reference
    from berth.registry.client.account import login, logout
    from berth.registry.client.credentials import Credentials, CredentialStore
    from berth.registry.client.hosts import InsecureRules
    from berth.registry.client.pull import PullOptions, PullResult
    from berth.registry.client.pull import pull as pull_image
    from berth.registry.client.push import PushOptions, PushResult
    from berth.registry.client.push import push as push_image
    from berth.registry.client.session import Session

_LAZY = {
    "Reference": ("berth.oci.reference", "Reference"),
    "login": ("berth.registry.client.account", "login"),
    "logout": ("berth.registry.client.account", "logout"),
    "Credentials": ("berth.registry.client.credentials", "Credentials"),
    "CredentialStore": ("berth.registry.client.credentials", "CredentialStore"),
    "InsecureRules": ("berth.registry.client.hosts", "InsecureRules"),
    "PullOptions": ("berth.registry.client.pull", "PullOptions"),
    "PullResult": ("berth.registry.client.pull", "PullResult"),
    "pull_image": ("berth.registry.client.pull", "pull"),
    "PushOptions": ("berth.registry.client.push", "PushOptions"),
    "PushResult": ("berth.registry.client.push", "PushResult"),
    "push_image": ("berth.registry.client.push", "push"),
    "Session": ("berth.registry.client.session", "Session"),
}

__all__ = [
    "CredentialStore",
    "Credentials",
    "InsecureRules",
    "PullOptions",
    "PullResult",
    "PushOptions",
    "PushResult",
    "Reference",
    "Session",
    "login",
    "logout",
    "pull_image",
    "push_image",
]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), attr)
