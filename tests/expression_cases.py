"""Seeded generator of `${{ }}` expressions over GitHub's whole expression grammar.

Used by tests/test_expressions_oracle.py to compare receiver/expressions.py with GitHub's own
evaluator. Deterministic: the same seed gives the same expressions, so a failure reproduces.
Besides well-formed expressions it mixes in text GitHub refuses (unknown contexts, upper-case
keywords, bad format strings, a property of a literal), where ours must refuse too.
"""

from __future__ import annotations

import random
from typing import Any

# The contexts both evaluators see; shaped like a local run's (inputs, env, steps, github, runner).
CONTEXTS: dict[str, Any] = {
    "inputs": {"brief": "Build a Todo app", "round": "2", "count": 3, "empty": "", "flag": True},
    "env": {"HOME": "/home/runner", "LLM_MODEL": "gpt-4.1-mini", "ZERO": "0", "HEX": "0x1F"},
    "steps": {
        "build": {"outputs": {"result": "ok", "pages_url": "https://x.github.io/app/"}},
        "verify": {"outcome": "failure", "conclusion": "success", "outputs": {}},
    },
    "github": {
        "event_name": "workflow_dispatch",
        "ref": "refs/heads/main",
        "repository": "owner/app",
        "event": {"list": [1, "two", None, True], "nested": {"k": "V"}},
    },
    "runner": {"os": "Linux", "temp": "/tmp"},
    "job": {"status": "success"},
}

STRINGS = [
    "''",
    "'abc'",
    "'ABC'",
    "'1'",
    "' 2 '",
    "'0x10'",
    "'true'",
    "'it''s'",
    "'main'",
    "'1.50'",
    "'-3'",
    "'refs/heads/'",
    "'{0}'",
    "'null'",
    "'é'",
    "'ß'",
    "'_'",
    "'Infinity'",
    "' 0b11 '",
]
NUMBERS = ["0", "1", "-1", "2.5", "3", "0x1F", "1e3", "-0.5", "10", "007"]
# Numbers whose text differs between Python and JavaScript, or that only JavaScript parses.
ODD_NUMBERS = [
    "1.23456789012345678",
    "0.1",
    "1e21",
    "1e-7",
    "0.000001",
    "1e400",
    "-0",
    "1.5e300",
    "123456789012345678",
    "NaN",
    "Infinity",
    "+1",
    ".5",
    "1.",
    "0o17",
    "0b101",
    "4.35",
    "1e-16",
]
# Paths GitHub evaluates in ways easy to get wrong: filters, odd indexes, groups, calls.
ODD_PATHS = [
    "github.event.list[-1]",
    "github.event.list[1.5]",
    "github.event.list[null]",
    "github.event.list[true]",
    "github.event.list['1']",
    "github.event.list[*]",
    "github.event.list.*",
    "github.event.*",
    "github.event.*.k",
    "steps.*.outputs",
    "steps.*.outputs.result",
    "steps.*.*",
    "inputs.*",
    "(github.event).nested.K",
    "fromJSON('[[1, 2], {\"a\": 3}]').*[1]",
    "fromJSON('[[1, 2], {\"a\": 3}]')[*].a",
    "inputs.true",
]
# Text GitHub refuses: ours must refuse it too.
REFUSED = [
    "input.brief",
    "nosuchcontext.x",
    "TRUE",
    "False",
    "NULL",
    "'abc'.length",
    "1[0]",
    "success(1)",
    "fromJSON('not json')",
    "fromJSON('')",
    "format('{')",
    "format('{0}}', 1)",
    "format('{ 0}', 1)",
    "format('{1}', 1)",
    "join()",
    "contains('a' 'b')",
]
FORMATS = ["'{0}-{1} {{x}}'", "'{1}{0}'", "'{0:x}}}{1}'", "'}}{{{0}'", "'{0}{1}{2}'"]
LITERALS = ["null", "true", "false", *STRINGS, *NUMBERS]
PATHS = [
    "inputs.brief",
    "inputs.round",
    "inputs.count",
    "inputs.empty",
    "inputs.flag",
    "inputs.missing",
    "inputs['brief']",
    "INPUTS.Brief",
    "env.HOME",
    "env.ZERO",
    "env.HEX",
    "env.LLM_MODEL",
    "steps.build.outputs.result",
    "steps.verify.outcome",
    "steps.verify.conclusion",
    "steps.build.outputs.pages_url",
    "steps.nope.outputs.x",
    "github.event_name",
    "github.ref",
    "github.repository",
    "github.event.list[0]",
    "github.event.list[1]",
    "github.event.list[2]",
    "github.event.list[9]",
    "github.event.nested.k",
    "runner.os",
]
STATUS = ["success()", "always()", "failure()", "cancelled()"]
BINARY = ["==", "!=", "<", "<=", ">", ">=", "&&", "||"]


FLAT_ARRAYS = ["github.event.list", "fromJSON('[\"x\", null, 2.5]')"]
CONTAINER_PATHS = ["github.event.list", "github.event.nested", "inputs", "steps.build.outputs"]
PRIMITIVE_JSON = ["'true'", "'null'", "'\"s\"'", "'3'", "'2.5'"]
CONTAINER_JSON = ["'[1, 2]'", '\'{"a": "b"}\'', "'[\"x\", null]'"]

# Constructs that disagree with GitHub, each with an xfail case in
# tests/test_expressions_oracle.py; the generated tests leave them out until fixed. None now;
# the generator still knows how to leave out: "uppercase-literal" (TRUE, False, NULL),
# "unparenthesised" (binary operators without parentheses), "containers" (arrays and objects as
# function arguments and operands), "tojson-number" (toJSON of anything but paths and strings),
# "odd" (ODD_NUMBERS, ODD_PATHS, REFUSED and FORMATS beyond the first).
KNOWN_BUG_FEATURES: frozenset[str] = frozenset()


class Generator:
    """Random expressions up to a depth; `excluded` leaves out constructs known to disagree."""

    def __init__(self, seed: int, excluded: frozenset[str] = frozenset()) -> None:
        self.rng = random.Random(seed)
        self.excluded = excluded

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items)

    def atom(self, primitive: bool) -> str:
        roll = self.rng.random()
        if "odd" not in self.excluded and self.rng.random() < 0.15:
            kinds = [ODD_NUMBERS, REFUSED] if primitive else [ODD_NUMBERS, ODD_PATHS, REFUSED]
            return self.pick(self.rng.choice(kinds))
        if roll < 0.35:
            if "uppercase-literal" not in self.excluded and self.rng.random() < 0.05:
                return self.pick(["TRUE", "False", "NULL"])
            return self.pick(LITERALS)
        if roll < 0.75:
            if not primitive and self.rng.random() < 0.15:
                return self.pick(CONTAINER_PATHS)
            return self.pick(PATHS)
        if roll < 0.82:
            return self.pick(STATUS)
        return self.call(depth=1, primitive=primitive)

    def arg(self, depth: int) -> str:
        """An argument to a string function: any value, unless containers are excluded."""
        return self.expr(depth, primitive="containers" in self.excluded)

    def call(self, depth: int, primitive: bool) -> str:
        name = self.pick(
            ["contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON"]
        )
        if name == "contains" and self.rng.random() < 0.3:
            # Searching an array answers a boolean, so it stays in the primitive grammar.
            return f"contains({self.pick(FLAT_ARRAYS)}, {self.arg(depth)})"
        if name in ("contains", "startsWith", "endsWith"):
            return f"{name}({self.arg(depth)}, {self.arg(depth)})"
        if name == "format":
            fmt = FORMATS[0] if "odd" in self.excluded else self.pick(FORMATS)
            return f"format({fmt}, {self.arg(depth)}, {self.arg(depth)})"
        if name == "join":
            first = (
                self.arg(depth) if primitive else self.pick(["github.event.list", self.arg(depth)])
            )
            return f"join({first}, {self.pick(STRINGS)})"
        if name == "toJSON":
            if "tojson-number" in self.excluded:
                return f"toJSON({self.pick(PATHS + STRINGS)})"
            return f"toJSON({self.expr(depth, primitive)})"
        docs = PRIMITIVE_JSON if primitive else PRIMITIVE_JSON + CONTAINER_JSON
        return f"fromJSON({self.pick(docs)})"

    def expr(self, depth: int, primitive: bool = False) -> str:
        """One expression; `primitive` keeps arrays and objects out of its possible values."""
        if depth <= 0 or self.rng.random() < 0.3:
            return self.atom(primitive)
        roll = self.rng.random()
        if roll < 0.15:
            return f"!{self.expr(depth - 1, primitive)}"
        if roll < 0.3:
            return self.call(depth - 1, primitive)
        if roll < 0.37 and not primitive:
            container = self.pick(["github.event.list", "github.event", "inputs", "steps.*"])
            return f"{container}[{self.expr(depth - 1, primitive)}]"
        op = self.pick(BINARY)
        left, right = self.expr(depth - 1, primitive), self.expr(depth - 1, primitive)
        if "unparenthesised" in self.excluded or self.rng.random() < 0.5:
            return f"({left} {op} {right})"
        return f"{left} {op} {right}"


def generate(seed: int, count: int, excluded: frozenset[str] = frozenset()) -> list[str]:
    """`count` distinct expressions from one seed, in generation order."""
    gen = Generator(seed, excluded)
    seen: dict[str, None] = {}
    while len(seen) < count:
        depth = gen.rng.choice([1, 2, 3, 3])
        seen.setdefault(gen.expr(depth, primitive="containers" in excluded), None)
    return list(seen)
