"""Random container names, ``adjective_surname`` as Docker makes them (berth's own lists)."""

from __future__ import annotations

import random

ADJECTIVES = (
    "amber", "brave", "calm", "clever", "crisp", "daring", "eager", "fancy", "gentle", "happy", "jolly", "keen",
    "lively", "lucid", "mellow", "nimble", "patient", "proud", "quiet", "rapid", "serene", "sharp", "steady",
    "sunny", "swift", "tidy", "upbeat", "vivid", "warm", "witty", "zealous", "bold", "cosmic", "dreamy", "epic",
)
NAMES = (
    "lovelace", "hopper", "turing", "knuth", "ritchie", "thompson", "liskov", "hamilton", "dijkstra", "backus",
    "torvalds", "stallman", "kernighan", "pike", "cerf", "kahn", "lamport", "hoare", "wirth", "mccarthy",
    "engelbart", "shannon", "babbage", "noether", "curie", "meitner", "franklin", "goodall", "sagan", "feynman",
    "bardeen", "shockley", "kilby", "noyce", "moore", "wozniak", "berners", "postel", "allen", "perlman",
)


def random_name() -> str:
    return f"{random.choice(ADJECTIVES)}_{random.choice(NAMES)}"
