"""``login`` and ``logout``: check credentials against a registry, then keep or forget
them in Docker's credential file (``credentials.CredentialStore``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from berth.registry.client.credentials import Credentials, CredentialStore

if TYPE_CHECKING:
    from berth.registry.client.session import Session


def login(session: Session, registry: str, creds: Credentials) -> str:
    """Verify ``creds`` with ``registry`` (a reference domain such as ``docker.io`` or
    ``127.0.0.1:5000``) and store them; returns where they were stored. Raises
    AuthenticationFailed (a PermissionDenied) when the registry refuses them."""
    session.login(registry, creds)
    return session.credentials.store(registry, creds)


def logout(store: CredentialStore, registry: str) -> bool:
    """Forget the credentials of ``registry``; False when there were none."""
    return store.erase(registry)
