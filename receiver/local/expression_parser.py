"""Tokenizer and parser for GitHub Actions ``${{ }}`` expressions (the evaluator is expressions.py).

A port of GitHub's own lexer and parser (npm ``@actions/expressions``), so the same text is
accepted, refused and grouped the same way: ``< <= > >=`` bind tighter than ``== !=``, keywords
are lower case, a name that is not a known context and a function called with the wrong number
of arguments are refused before anything is evaluated, and only a context, a call or a
parenthesised group can be indexed. Number literals are read as JavaScript's ``Number(text)``
reads them (``js_number`` in expression_values.py), as GitHub's lexer does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from receiver.local.expression_values import JS_SPACE, ExpressionError, js_number

__all__ = ["ExpressionError", "calls_status_function", "parse", "tokenize"]

MAX_LENGTH = 21000
MAX_DEPTH = 50
# Built-in functions and the status functions the runner supplies: (fewest, most) arguments.
FUNCTION_ARITY: dict[str, tuple[int, int]] = {
    "contains": (2, 2),
    "startswith": (2, 2),
    "endswith": (2, 2),
    "format": (1, 255),
    "join": (1, 2),
    "tojson": (1, 1),
    "fromjson": (1, 1),
    "success": (0, 0),
    "failure": (0, 0),
    "cancelled": (0, 0),
    "always": (0, 0),
}
STATUS_FUNCTIONS = frozenset({"success", "failure", "cancelled", "always"})
_BOUNDARY = frozenset("()[],.!><=&|" + JS_SPACE)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Context:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """``obj[key]`` or ``obj.key``; key None means the ``*`` filter."""

    obj: Node
    key: Node | None


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # lower case
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "&&" or "||"
    args: tuple[Node, ...]


Node = Literal | Context | Index | Call | Not | Compare | Logical


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme; `value` holds a number's or a string literal's value."""

    kind: str  # punctuation/operator text, or "num", "str", "ident", "true", "false", "null", "eof"
    text: str
    value: Any = None


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, ending with an "eof" token."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"The expression is longer than {MAX_LENGTH} characters.")
    tokens: list[Token] = []
    pos = 0

    def bad(start: int, end: int) -> ExpressionError:
        return ExpressionError(
            f"Unexpected symbol {text[start:end]!r} at position {start + 1} in {text!r}."
        )

    def run_end(start: int, allow_dot: bool) -> int:
        end = start
        while end < len(text) and (text[end] not in _BOUNDARY or (allow_dot and text[end] == ".")):
            end += 1
        return end

    while pos < len(text):
        start, c = pos, text[pos]
        nxt = text[pos + 1] if pos + 1 < len(text) else ""
        prev = tokens[-1].kind if tokens else "eof"
        if c in " \t\r\n":
            pos += 1
        elif c in "()[],*" or (c == "." and prev in ("ident", "]", ")", "*")):
            tokens.append(Token(c, c))
            pos += 1
        elif c in "!<>":
            op = c + "=" if nxt == "=" else c
            tokens.append(Token(op, op))
            pos += len(op)
        elif c in "=&|":
            if nxt != c:
                raise bad(start, start + 1)
            tokens.append(Token(c + c, c + c))
            pos += 2
        elif c in ".-+" or "0" <= c <= "9":
            pos = run_end(start + 1, allow_dot=True)
            number = js_number(text[start:pos])
            if math.isnan(number):
                raise bad(start, pos)
            tokens.append(Token("num", text[start:pos], number))
        elif c == "'":
            pos += 1
            while pos < len(text) and (text[pos] != "'" or text[pos + 1 : pos + 2] == "'"):
                pos += 2 if text[pos] == "'" else 1
            if pos >= len(text):
                raise bad(start, len(text))
            pos += 1
            value = text[start + 1 : pos - 1].replace("''", "'")
            tokens.append(Token("str", text[start:pos], value))
        else:
            pos = run_end(start + 1, allow_dot=False)
            word = text[start:pos]
            if prev != "." and word in ("true", "false", "null"):
                tokens.append(Token(word, word))
            elif prev != "." and word in ("NaN", "Infinity"):
                tokens.append(Token("num", word, math.nan if word == "NaN" else math.inf))
            elif _IDENTIFIER.fullmatch(word):
                tokens.append(Token("ident", word))
            else:
                raise bad(start, pos)
    tokens.append(Token("eof", ""))
    return tokens


class _Parser:
    def __init__(self, text: str, contexts: Collection[str]) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.contexts = {name.lower() for name in contexts}

    def error(self, token: Token) -> ExpressionError:
        if token.kind == "eof":
            return ExpressionError(f"Unexpected end of expression {self.text!r}.")
        return ExpressionError(f"Unexpected symbol {token.text!r} in expression {self.text!r}.")

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def match(self, *kinds: str) -> Token | None:
        token = self.tokens[self.pos]
        if token.kind in kinds and token.kind != "eof":
            self.pos += 1
            return token
        return None

    def expect(self, kind: str) -> None:
        if not self.match(kind):
            raise self.error(self.peek())

    def deeper(self, levels: int = 1) -> None:
        self.depth += levels
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"The expression {self.text!r} nests deeper than {MAX_DEPTH}.")

    def expression(self) -> Node:
        self.deeper()
        try:
            return self.logical("||")
        finally:
            self.depth -= 1

    def logical(self, op: str) -> Node:
        operand = self.equality if op == "&&" else lambda: self.logical("&&")
        first = operand()
        if self.peek().kind != op:
            return first
        self.deeper()
        args = [first]
        while self.match(op):
            args.append(operand())
        self.depth -= 1
        return Logical(op, tuple(args))

    def equality(self) -> Node:
        node = self.comparison()
        while token := self.match("==", "!="):
            node = Compare(token.kind, node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.unary()
        while token := self.match("<", "<=", ">", ">="):
            node = Compare(token.kind, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.match("!"):
            self.deeper()
            operand = self.unary()
            self.depth -= 1
            return Not(operand)
        return self.postfix()

    def postfix(self) -> Node:
        node, indexable = self.primary()
        levels = 0
        while indexable and (token := self.match("[", ".")):
            if token.kind == "[":
                key = None if self.match("*") else self.expression()
                self.expect("]")
            elif self.match("*"):
                key = None
            elif name := self.match("ident"):
                key = Literal(name.text)
            else:
                raise self.error(self.peek())
            self.deeper()
            levels += 1
            node = Index(node, key)
        self.depth -= levels
        return node

    def primary(self) -> tuple[Node, bool]:
        """A node, and whether GitHub lets it be indexed (contexts, calls, groups)."""
        token = self.peek()
        if self.match("ident"):
            if self.match("("):
                return self.call(token), True
            if token.text.lower() not in self.contexts:
                raise ExpressionError(
                    f"Unrecognized named-value {token.text!r} in expression {self.text!r}; "
                    f"the contexts here are {', '.join(sorted(self.contexts))}."
                )
            return Context(token.text), True
        if self.match("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[token.kind]), False
        if self.match("num", "str"):
            return Literal(token.value), False
        if self.match("("):
            node = self.expression()
            self.expect(")")
            return node, True
        raise self.error(token)

    def call(self, name_token: Token) -> Call:
        args: list[Node] = []
        while not self.match(")"):
            args.append(self.expression())
            if self.peek().kind != ")":
                self.expect(",")
                if self.peek().kind == ")":
                    # npm's parser allows this, but GitHub's runner refuses it: so do we.
                    raise ExpressionError(f"A trailing comma in the arguments of {self.text!r}.")
        name = name_token.text.lower()
        if name not in FUNCTION_ARITY:
            raise ExpressionError(f"Unknown function {name_token.text}() in {self.text!r}.")
        fewest, most = FUNCTION_ARITY[name]
        if not fewest <= len(args) <= most:
            wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise ExpressionError(
                f"{name_token.text}() takes {wanted} argument(s), not {len(args)}: {self.text!r}."
            )
        return Call(name, tuple(args))


def parse(text: str, contexts: Collection[str]) -> Node:
    """Parse one expression (without the ``${{ }}`` fence); `contexts` are the names it may use."""
    parser = _Parser(text, contexts)
    if parser.peek().kind == "eof":
        raise ExpressionError("The expression is empty.")
    node = parser.expression()
    if parser.peek().kind != "eof":
        raise parser.error(parser.peek())
    return node


def calls_status_function(node: Node) -> bool:
    """Whether a status function (success(), always() …) appears anywhere in the expression."""
    pending = [node]  # a stack, not recursion: a chain of thousands of == is a deep tree
    while pending:
        match pending.pop():
            case Call(name, args):
                if name in STATUS_FUNCTIONS:
                    return True
                pending += args
            case Index(obj, key):
                pending += [obj] if key is None else [obj, key]
            case Not(operand):
                pending.append(operand)
            case Compare(_, left, right):
                pending += [left, right]
            case Logical(_, args):
                pending += args
    return False
