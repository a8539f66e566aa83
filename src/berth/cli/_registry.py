"""What the registry verbs (pull, push, login, logout) share: the insecure-registry
option, the session, Docker's exit status for registry failures, and output."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from berth.errors import BerthError

if TYPE_CHECKING:
    from berth.registry.client.progress import Progress
    from berth.registry.client.session import Session

F = TypeVar("F", bound=Callable[..., Any])

INSECURE_HELP = ("Allow plain HTTP (and unverified HTTPS) to this registry: HOST, HOST:PORT or a CIDR; repeatable. "
                 "Also read from BERTH_INSECURE_REGISTRIES (comma- or space-separated). Loopback registries "
                 "(localhost, 127.0.0.0/8, ::1) are always allowed.")


def insecure_option(f: F) -> F:
    return click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST", help=INSECURE_HELP)(f)


def open_session(insecure: tuple[str, ...]) -> Session:
    from berth.registry.client.hosts import InsecureRules
    from berth.registry.client.session import Session

    return Session(InsecureRules.from_env(insecure))


def progress_for(quiet: bool) -> Progress:
    from berth.registry.client.progress import for_output

    return for_output(sys.stdout, quiet)


@contextlib.contextmanager
def registry_errors() -> Iterator[None]:
    """The docker CLI exits 1 when a pull, push or login fails (125 is for ``run``):
    the error carries that status to main's one error → exit mapping."""
    try:
        yield
    except BerthError as err:
        err.exit_code = 1  # type: ignore[attr-defined]
        raise
