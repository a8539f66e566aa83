"""Who may pull, push and delete which repositories: the policy file.

One rule a line, three fields separated by blanks; ``#`` starts a comment::

    # REPOSITORY   WHO                ACTIONS
    public/*       anonymous          pull
    team/*         alice,bob          pull,push
    team/*         alice              delete
    *              admin              *
    *              *                  pull

REPOSITORY
    A glob over repository names (``fnmatch``: ``*`` matches any run of characters,
    ``/`` included; ``?`` one character; ``[...]`` a set).
WHO
    Comma-separated user names from the htpasswd file, or ``*`` for any user who
    logged in, or ``anonymous`` for everyone, including clients without credentials.
ACTIONS
    Comma-separated ``pull``, ``push``, ``delete``, or ``*`` for all three.

A user's permissions on a repository are the union of every rule that matches both;
there is no deny. Without a policy file, every user in the htpasswd file may do
everything and anonymous clients nothing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from berth.errors import InvalidArgument

ANONYMOUS = "anonymous"
ANY_USER = "*"
ACTIONS = frozenset({"pull", "push", "delete"})


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    who: frozenset[str]
    actions: frozenset[str]

    def applies(self, user: str | None, repository: str) -> bool:
        if ANONYMOUS not in self.who:
            if user is None:
                return False
            if ANY_USER not in self.who and user not in self.who:
                return False
        return fnmatch.fnmatchcase(repository, self.pattern)


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]

    @classmethod
    def users_may_do_everything(cls) -> Policy:
        return cls((Rule("*", frozenset({ANY_USER}), ACTIONS),))

    @classmethod
    def parse(cls, text: str, source: str = "policy") -> Policy:
        """Parse a policy file; InvalidArgument names the line of the first mistake."""
        rules: list[Rule] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 3:
                raise InvalidArgument(f"{source}:{number}: expected REPOSITORY WHO ACTIONS, got {raw.strip()!r}")
            pattern, who_text, actions_text = fields
            who = frozenset(w for w in who_text.split(",") if w)
            actions = frozenset(a for a in actions_text.split(",") if a)
            if not who:
                raise InvalidArgument(f"{source}:{number}: no user named")
            if actions == {"*"}:
                actions = ACTIONS
            unknown = actions - ACTIONS
            if unknown or not actions:
                raise InvalidArgument(
                    f"{source}:{number}: unknown action {', '.join(sorted(unknown)) or '(none)'};"
                    " use pull, push, delete or *"
                )
            rules.append(Rule(pattern, who, actions))
        return cls(tuple(rules))

    def actions(self, user: str | None, repository: str) -> frozenset[str]:
        """What ``user`` (None: no credentials) may do on ``repository``."""
        allowed: set[str] = set()
        for rule in self.rules:
            if rule.applies(user, repository):
                allowed |= rule.actions
        return frozenset(allowed)
