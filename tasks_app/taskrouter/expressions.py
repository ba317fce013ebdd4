"""TaskRouter's expression language: parse once, evaluate cheaply, explain errors precisely.

Used for ListTask's ``EvaluateTaskAttributes`` and for Workflow filter expressions. Pure
Python, no Django: the sandbox evaluates the same expression against thousands of tasks per
request, so :func:`parse_expression` caches by text and compiles the tree into nested
closures; :meth:`Expression.matches` then costs a few function calls per condition.

Sources are summarised in docs/taskrouter.md ("The expression language"), whose tags these
are: [ExprDoc] is Twilio's expression-syntax page, [TaskDoc] the Task resource page. Anything marked
DECISION is not documented by Twilio and was chosen here; the tests pin each one.

Grammar (AND binds tighter than OR, as in SQL, which [ExprDoc] says the language is like)::

    expression := all_of ( OR all_of )*
    all_of     := condition ( AND condition )*
    condition  := '(' expression ')' | operand operator operand
    operand    := constant | reference | array
    array      := '[' ( constant ( ',' constant )* )? ']'

Constants [ExprDoc]
    * Strings in single or double quotes. DECISION: a backslash escapes a quote (either kind)
      or a backslash; any other backslash is kept as written (``'C:\\temp'`` is 7 characters).
    * Numbers: ``1``, ``1.0``, ``3.141529``; a leading minus makes them negative (``-1``,
      ``-1.5``). DECISION: no exponents, no leading ``+``, no ``.5``; ``1abc`` and ``1.2.3``
      are errors rather than being split into several tokens.
    * ``true`` / ``false``, unquoted. DECISION: case-insensitive, like the keywords.
    * Array literals in ``[ ]`` (``["en", "es"]``, ``['Mon', 'Tue']``). DECISION: elements
      must be constants (no references, no nested arrays, no trailing comma); empty arrays
      and mixed types are allowed. There is no ``null`` constant.
    * Constants may stand on either side of an operator, and ``1 == 1`` is the documented
      match-all expression [ExprDoc, OAI].

References [ExprDoc]
    * Unquoted JSON keys, resolved against the attributes. DECISION: a key is ASCII letters,
      digits and underscores and does not start with a digit.
    * ``a.b.c`` for nesting, ``a.list[2].b`` for array indexes. DECISION: no whitespace
      inside a path except within the brackets (``a[ 2 ]``); an index is a non-negative
      whole number (``a[-1]`` and ``a[x]`` are errors).
    * A missing key resolves to NULL [ExprDoc]. DECISION: so does an index out of range,
      and a key or index applied to something that is not an object or array (a string is
      not an array here).
    * "Hyphens are not supported in TaskRouter expressions" [ExprDoc]: ``customer-name``
      is an error that says so.
    * DECISION: the keywords AND, OR, NOT, IN, HAS, CONTAINS, TRUE, FALSE (any case) cannot
      start a reference, so a top-level attribute with such a name cannot be referenced; as a
      later segment (``task.in``) they are ordinary keys. ``null`` is an ordinary key name.

Operators [ExprDoc], aliases from [TaskDoc]
    * ``==`` (alias ``=``), ``!=``, ``<``, ``>``, ``<=``, ``>=``; ``CONTAINS`` (substring).
    * ``HAS`` (alias ``>-``): the array on the left holds the value on the right.
    * ``IN`` (alias ``<-``): the value on the left is in the array on the right.
    * ``NOT IN``: the value on the left is not in the array on the right. ([TaskDoc] lists
      ``<-`` for it too, evidently a typo, so NOT IN has no symbol alias here.)
    * ``AND``, ``OR``, parentheses. There is no unary ``NOT`` [ExprDoc]; a ``NOT`` anywhere
      but before ``IN`` is an error suggesting ``!=`` or ``NOT IN``.
    * Keywords are case-insensitive: official examples write ``in`` (Twilio's activity-based
      routing doc), though Twilio does not state it as a rule.
    * DECISION: symbols are read longest-first, so ``a<-1`` is ``a <- 1`` (IN) and ``a>-1``
      is HAS; write ``a < -1`` with a space to compare with a negative number.
    * DECISION: a condition must be a comparison. A bare reference or constant (``vip``,
      ``true``) is an error ("Expected an operator after 'vip' ...").

Types [ExprDoc]: "Using scalar operators on Arrays results in false. Using array operators on
two scalar values also returns false." Attributes hold JSON values: objects, arrays,
strings, numbers, booleans and null.
    * Scalars are strings, numbers and booleans. ``==``, ``!=``, ordering and CONTAINS with
      an array or object on either side are false (so ``tags == ['a']`` is false).
    * DECISION: comparing different types is false, whatever the operator: ``'1' == 1``,
      ``'1' != 1`` and ``true == 1`` are all false. Integers and floats are one type
      (``1 == 1.0``); booleans are not numbers (Python's ``True == 1`` does not leak through).
    * Ordering (``<``, ``>``, ``<=``, ``>=``) compares numbers numerically and strings
      lexicographically by code point; for booleans it is false.
    * DECISION: any comparison with NULL is false, ``!=`` and ``NOT IN`` included, as in
      SQL: ``missing != 'x'`` does not match a task without ``missing``.
    * DECISION: string comparison is case-sensitive ([ExprDoc] does not say; exact matching
      is the conservative reading and what a JSON comparison does).
    * CONTAINS needs strings on both sides. HAS needs an array on the left and a scalar on
      the right; IN and NOT IN need a scalar on the left and an array on the right.
      Otherwise they are false (``x IN 'abc'`` is not a substring test). Array membership
      uses the same equality as ``==``, so ``[1] HAS true`` is false and ``[1] HAS 1.0`` is
      true.

Errors: :class:`ExpressionSyntaxError` (an ``InvalidParameter``) with ``position``, the
0-based offset of the problem in the text as given, and a message that says "character N"
(1-based), names the offending token and says what was expected. At the end of the text the
position is ``len(text)`` and the message adds "(the end of the expression)".
"""

from __future__ import annotations

import functools
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, TypeAlias

from .errors import InvalidParameter

__all__ = [
    "CONTAINS",
    "EQ",
    "GE",
    "GT",
    "HAS",
    "IN",
    "LE",
    "LT",
    "NE",
    "NOT_IN",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Constant",
    "Expression",
    "ExpressionSyntaxError",
    "Reference",
    "check_expression",
    "matches",
    "parse_expression",
]

DEFAULT_PARAM = "EvaluateTaskAttributes"
# Not a TaskRouter limit: it keeps a pathological "((((..." from exhausting Python's stack.
MAX_NESTING = 100


class ExpressionSyntaxError(InvalidParameter):
    """The text is not a valid expression. ``position`` is the 0-based offset of the problem."""

    default_message = "The expression is not valid."

    def __init__(
        self, user_message: str, *, position: int, param: str = DEFAULT_PARAM, **kwargs: Any
    ) -> None:
        super().__init__(user_message, param=param, **kwargs)
        self.position = position


# --- Tree -----------------------------------------------------------------------------------

# Canonical operator names; aliases are mapped onto these by the tokenizer.
EQ, NE, LT, GT, LE, GE = "==", "!=", "<", ">", "<=", ">="
CONTAINS, HAS, IN, NOT_IN = "CONTAINS", "HAS", "IN", "NOT IN"
# Only produced internally, when a constant on the left is swapped to the right.
_CONTAINED_IN, _LACKS = "CONTAINED IN", "LACKS"


@dataclass(frozen=True, slots=True)
class Constant:
    value: str | int | float | bool | tuple[str | int | float | bool, ...]  # tuple: an array


@dataclass(frozen=True, slots=True)
class Reference:
    path: tuple[str | int, ...]  # keys (str) and indexes (int), e.g. ("a", "list", 2, "b")
    text: str  # as written


Operand: TypeAlias = Constant | Reference


@dataclass(frozen=True, slots=True)
class Comparison:
    operator: str  # one of EQ ... NOT_IN
    left: Operand
    right: Operand
    position: int  # of the operator


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Node, ...]


Node: TypeAlias = Comparison | AllOf | AnyOf
_Evaluator: TypeAlias = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression. Build it with :func:`parse_expression` (cached);
    ``Expression(text)`` also parses, uncached. Equal when the texts are equal."""

    text: str
    tree: Node | None = field(default=None, compare=False, repr=False)
    _evaluate: _Evaluator = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        tree = self.tree if self.tree is not None else _Parser(self.text).parse()
        # Frozen dataclass: set the derived fields the only way it allows.
        object.__setattr__(self, "tree", tree)
        object.__setattr__(self, "_evaluate", _compile(tree)[0])

    def matches(self, attributes: Mapping[str, Any] | None) -> bool:
        """Whether a task with these attributes matches.

        ``None`` counts as no attributes (TaskRouter can list tasks with null attributes), so
        every reference is NULL.
        """
        if type(attributes) is not dict:  # the fast path is a plain dict from json.loads
            if attributes is None:
                attributes = {}
            elif not isinstance(attributes, Mapping):
                raise TypeError(f"attributes must be a mapping, not {type(attributes).__name__}")
        return self._evaluate(attributes)


# --- Public functions -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _parse_cached(text: str) -> Expression:
    # lru_cache does not cache exceptions, so each failing call builds a fresh error that
    # parse_expression may safely relabel.
    return Expression(text)


def parse_expression(text: str, *, param: str = DEFAULT_PARAM) -> Expression:
    """Parse (cached by exact text) or raise :class:`ExpressionSyntaxError` naming ``param``."""
    if not isinstance(text, str):
        raise TypeError(f"an expression must be a string, not {type(text).__name__}")
    try:
        return _parse_cached(text)
    except ExpressionSyntaxError as error:
        error.param = param
        raise


def check_expression(text: str, *, param: str = DEFAULT_PARAM) -> str:
    """Validate for a form: the stripped text, or :class:`ExpressionSyntaxError`."""
    parse_expression(text, param=param)
    return text.strip()


def matches(text: str, attributes: Mapping[str, Any] | None) -> bool:
    """Parse (cached) and evaluate against one task's attributes."""
    return parse_expression(text).matches(attributes)


@functools.lru_cache(maxsize=256)
def _reference_cached(text: str) -> Reference:
    tokens = _tokenize(text)
    first = tokens[0]
    if first.kind != "ref":
        raise ExpressionSyntaxError(
            f"Expected an attribute name like customer.name {_at(first.start, text)}"
            f"{_found_char(text, first.start)}.",
            position=first.start,
        )
    if tokens[1].kind != "end":
        raise ExpressionSyntaxError(
            f"Expected only an attribute path, but found {_quoted(tokens[1].source)} "
            f"{_at(tokens[1].start, text)}.",
            position=tokens[1].start,
        )
    return first.value


def parse_reference(text: str, *, param: str = DEFAULT_PARAM) -> Reference:
    """One attribute path as expressions write it (``customer.name``, ``skills[0]``)."""
    try:
        return _reference_cached(text.strip())
    except ExpressionSyntaxError as error:
        error.param = param
        raise


def resolve(reference: Reference, attributes: Mapping[str, Any] | None) -> Any:
    """The value a reference names in these attributes; None (NULL) when it is missing.
    Never raises: a table cell of a task with odd attributes shows nothing, not a 500."""
    if not isinstance(attributes, Mapping):
        attributes = {}
    try:
        return _getter(reference.path)(attributes)
    except (TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None


# --- Tokenizer ------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # value, ref, op, and, or, not, (, ), [, ], ",", end
    start: int
    end: int
    source: str  # as written
    value: Any = None  # constant value, Reference, or canonical operator


_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# What follows a number and would make it something else ("1abc", "1.2.3", "1e5").
_NUMBER_TAIL_RE = re.compile(r"[A-Za-z0-9_.]+")
_DIGITS_RE = re.compile(r"[0-9]+")
_HYPHENATED_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_CHUNK_RE = re.compile(r"[^\s\]]{1,20}")

_KEYWORDS: dict[str, tuple[str, Any]] = {
    "and": ("and", None),
    "or": ("or", None),
    "not": ("not", None),
    "in": ("op", IN),
    "has": ("op", HAS),
    "contains": ("op", CONTAINS),
    "true": ("value", True),
    "false": ("value", False),
}
_SYMBOLS: dict[str, str] = {
    "==": EQ,
    "!=": NE,
    "<=": LE,
    ">=": GE,
    "<-": IN,  # [TaskDoc]
    ">-": HAS,  # [TaskDoc]
    "=": EQ,  # [TaskDoc]
    "<": LT,
    ">": GT,
}
_PUNCTUATION = frozenset("()[],")
_SMART_QUOTES = frozenset("\u2018\u2019\u201c\u201d")


def _at(position: int, text: str) -> str:
    """'at character N', 1-based, marking the end of the text."""
    where = f"at character {position + 1}"
    return where + " (the end of the expression)" if position >= len(text) else where


def _quoted(source: str) -> str:
    """A token as a message shows it: strings keep their own quotes, the rest get '...'."""
    quote = source[:1] if source[:1] in ("'", '"') else ""
    if len(source) > 30:
        source = source[:26] + "..." + quote
    return source if quote else f"'{source}'"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    n = len(text)
    i = 0

    def fail(message: str, position: int) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, position=position)

    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            tokens.append(_Token("end", n, n, ""))
            return tokens
        c = text[i]

        if c in _PUNCTUATION:
            tokens.append(_Token(c, i, i + 1, c))
            i += 1

        elif c == "'" or c == '"':
            chars: list[str] = []
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n and text[j + 1] in "\\'\"":
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                raise fail(
                    f"Unterminated string {_at(i, text)}: the opening {c} is never closed.", i
                )
            tokens.append(_Token("value", i, j + 1, text[i : j + 1], "".join(chars)))
            i = j + 1

        elif c in "=!<>":
            symbol = text[i : i + 2] if text[i : i + 2] in _SYMBOLS else c
            if symbol not in _SYMBOLS:  # a lone '!'
                raise fail(
                    f"Unexpected '!' {_at(i, text)}: use != for 'not equal' "
                    "(TaskRouter has no NOT operator).",
                    i,
                )
            tokens.append(_Token("op", i, i + len(symbol), symbol, _SYMBOLS[symbol]))
            i += len(symbol)

        elif c == "-" or "0" <= c <= "9":
            match = _NUMBER_RE.match(text, i)
            if match is None:
                raise fail(
                    f"Unexpected '-' {_at(i, text)}: a minus sign must be followed by a "
                    "number, and hyphens are not supported in TaskRouter expressions.",
                    i,
                )
            tail = _NUMBER_TAIL_RE.match(text, match.end())
            if tail is not None:
                raise fail(f"Invalid number '{text[i : tail.end()]}' {_at(i, text)}.", i)
            source = match.group()
            value: int | float = float(source) if "." in source else int(source)
            tokens.append(_Token("value", i, match.end(), source, value))
            i = match.end()

        elif c in _IDENT_CHARS:  # not a digit: those were numbers above
            match = _IDENT_RE.match(text, i)
            assert match is not None
            keyword = _KEYWORDS.get(match.group().lower())
            if keyword is not None:
                # A keyword wins even when '[' follows at once: "x IN['a']" is common.
                kind, value = keyword
                tokens.append(_Token(kind, i, match.end(), match.group(), value))
                i = match.end()
            else:
                token = _scan_reference(text, i, match)
                tokens.append(token)
                i = token.end

        elif c in "&|" and text[i : i + 2] in ("&&", "||"):
            word = "AND" if c == "&" else "OR"
            raise fail(f"Unexpected '{c * 2}' {_at(i, text)}: use {word}.", i)

        elif c in _SMART_QUOTES:
            raise fail(
                f"Unexpected character '{c}' {_at(i, text)}: use straight quotes "
                "(' or \") around strings.",
                i,
            )

        else:
            raise fail(f"Unexpected character '{c}' {_at(i, text)}.", i)


def _scan_reference(text: str, start: int, head: re.Match[str]) -> _Token:
    """A whole dotted/indexed path as one token, so its errors can point inside it."""
    n = len(text)
    path: list[str | int] = [head.group()]
    j = head.end()
    while j < n:
        if text[j] == ".":
            match = _IDENT_RE.match(text, j + 1)
            if match is None:
                raise ExpressionSyntaxError(
                    f"Expected an attribute name after '.' {_at(j + 1, text)}"
                    f"{_found_char(text, j + 1)}.",
                    position=j + 1,
                )
            path.append(match.group())
            j = match.end()
        elif text[j] == "[":
            k = _skip_space(text, j + 1)
            match = _DIGITS_RE.match(text, k)
            if match is None:
                raise ExpressionSyntaxError(
                    f"Expected a whole-number index after '[' {_at(k, text)}"
                    f"{_found_char(text, k)}. Indexes count from 0, like tags[0].",
                    position=k,
                )
            k = _skip_space(text, match.end())
            if k >= n or text[k] != "]":
                raise ExpressionSyntaxError(
                    f"Expected ']' after '{match.group()}' {_at(k, text)}{_found_char(text, k)}.",
                    position=k,
                )
            path.append(int(match.group()))
            j = k + 1
        else:
            break
    # "customer-name": say why, instead of a puzzling "expected an operator".
    if j + 1 < n and text[j] == "-" and text[j + 1] in _IDENT_CHARS:
        word = _HYPHENATED_RE.match(text, start)
        assert word is not None
        raise ExpressionSyntaxError(
            f"Unexpected '-' in '{word.group()}' {_at(j, text)}: hyphens are not supported "
            "in TaskRouter expressions.",
            position=j,
        )
    source = text[start:j]
    return _Token("ref", start, j, source, Reference(tuple(path), source))


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _found_char(text: str, i: int) -> str:
    if i >= len(text):
        return ""  # _at already said "(the end of the expression)"
    chunk = _CHUNK_RE.match(text, i)
    return f", found '{chunk.group() if chunk else text[i]}'"


# --- Parser ---------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; peeks before taking so the previous token is
    always ``tokens[i - 1]`` when an error names it."""

    def __init__(self, text: str) -> None:
        self.text = text
        if not text.strip():
            raise ExpressionSyntaxError("The expression is empty.", position=0)
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def parse(self) -> Node:
        node = self.any_of()
        token = self.peek()
        if token.kind == ")":
            raise self.stray_parenthesis(token)
        if token.kind != "end":
            raise self.expected("AND, OR or the end of the expression", token)
        return node

    # Helpers.

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def error(self, message: str, position: int) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, position=position)

    def expected(self, what: str, token: _Token, hint: str = "") -> ExpressionSyntaxError:
        after = f" after {_quoted(self.tokens[self.i - 1].source)}" if self.i else ""
        found = "" if token.kind == "end" else f", found {_quoted(token.source)}"
        return self.error(
            f"Expected {what}{after} {_at(token.start, self.text)}{found}.{hint}", token.start
        )

    def stray_parenthesis(self, token: _Token) -> ExpressionSyntaxError:
        return self.error(
            f"Unexpected ')' {_at(token.start, self.text)}: there is no '(' for it to close.",
            token.start,
        )

    # Grammar.

    def any_of(self) -> Node:
        conditions = [self.all_of()]
        while self.peek().kind == "or":
            self.take()
            conditions.append(self.all_of())
        return conditions[0] if len(conditions) == 1 else AnyOf(tuple(conditions))

    def all_of(self) -> Node:
        conditions = [self.condition()]
        while self.peek().kind == "and":
            self.take()
            conditions.append(self.condition())
        return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))

    def condition(self) -> Node:
        token = self.peek()
        if token.kind == "(":
            return self.group()
        if token.kind == "not":
            raise self.error(
                f"Unexpected '{token.source}' {_at(token.start, self.text)}: TaskRouter has no "
                "NOT operator, only NOT IN. Use != or NOT IN instead.",
                token.start,
            )
        left = self.operand("an attribute name or a value")
        token = self.peek()
        if token.kind == "op":
            self.take()
            operator = token.value
        elif token.kind == "not":
            self.take()
            follower = self.peek()
            if not (follower.kind == "op" and follower.value == IN):
                raise self.expected("IN", follower)
            self.take()
            operator = NOT_IN
        else:
            example = f"{left.text} == true" if isinstance(left, Reference) else "language == 'en'"
            raise self.expected(
                "an operator",
                token,
                f" Each condition compares two values, for example {example}.",
            )
        right = self.operand("a value")
        return Comparison(operator, left, right, token.start)

    def group(self) -> Node:
        opening = self.take()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(
                f"Parentheses are nested more than {MAX_NESTING} deep "
                f"{_at(opening.start, self.text)}.",
                opening.start,
            )
        inner = self.any_of()
        token = self.peek()
        if token.kind == "end":
            raise self.error(
                f"The '(' {_at(opening.start, self.text)} is never closed: add a ')'.",
                opening.start,
            )
        if token.kind != ")":
            raise self.expected("AND, OR or ')'", token)
        self.take()
        self.depth -= 1
        return inner

    def operand(self, what: str) -> Operand:
        token = self.peek()
        if token.kind == "value":
            self.take()
            return Constant(token.value)
        if token.kind == "ref":
            self.take()
            return token.value
        if token.kind == "[":
            return self.array()
        if token.kind == ")" and self.depth == 0:
            raise self.stray_parenthesis(token)
        hint = ""
        if token.kind == "(" and what == "a value":
            hint = " Parentheses group conditions, not values."
        raise self.expected(what, token, hint)

    def array(self) -> Constant:
        opening = self.take()
        items: list[Any] = []
        if self.peek().kind == "]":
            self.take()
            return Constant(())
        while True:
            token = self.peek()
            if token.kind == "value":
                items.append(token.value)
                self.take()
            elif token.kind == "end":
                raise self.unterminated(opening)
            elif token.kind == "ref":
                raise self.error(
                    f"Arrays can only hold strings, numbers, true and false, not the attribute "
                    f"{_quoted(token.source)} {_at(token.start, self.text)}.",
                    token.start,
                )
            elif token.kind == "[":
                raise self.error(
                    f"Arrays cannot be nested: unexpected '[' {_at(token.start, self.text)}.",
                    token.start,
                )
            else:
                raise self.expected("a value", token)
            token = self.peek()
            if token.kind == "]":
                self.take()
                return Constant(tuple(items))
            if token.kind == "end":
                raise self.unterminated(opening)
            if token.kind != ",":
                raise self.expected("',' or ']'", token)
            self.take()

    def unterminated(self, opening: _Token) -> ExpressionSyntaxError:
        return self.error(
            f"The '[' {_at(opening.start, self.text)} is never closed: add a ']' to end the array.",
            opening.start,
        )


# --- Evaluation -----------------------------------------------------------------------------

# Kinds of value. All truthy, so `_KIND_BY_TYPE.get(t) or _slow_kind(v)` works, and the
# scalars come first so "is a scalar" is `kind <= _STRING` and "orderable" (number or
# string) is `_NUMBER <= kind <= _STRING`.
_BOOL, _NUMBER, _STRING, _ARRAY, _OBJECT, _NULL, _OTHER = range(1, 8)
_KIND_BY_TYPE: dict[type, int] = {
    bool: _BOOL,
    int: _NUMBER,
    float: _NUMBER,
    str: _STRING,
    list: _ARRAY,
    tuple: _ARRAY,
    dict: _OBJECT,
    type(None): _NULL,
}
_kind_by_type = _KIND_BY_TYPE.get


def _slow_kind(value: Any) -> int:
    # Subclasses and non-JSON types (a Decimal from a custom decoder, a Mapping proxy).
    if value is None:
        return _NULL
    if isinstance(value, bool):  # before numbers: bool is an int subclass
        return _BOOL
    if isinstance(value, numbers.Real | Decimal):
        return _NUMBER
    if isinstance(value, str):
        return _STRING
    if isinstance(value, Mapping):
        return _OBJECT
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return _ARRAY
    return _OTHER


def _kind(value: Any) -> int:
    return _kind_by_type(type(value)) or _slow_kind(value)


def _array_has(array: Any, value: Any, kind: int) -> bool:
    # `item == value` first (cheap, usually false); the kind check stops True == 1. A plain
    # loop rather than any(): no generator object per call on the hot path.
    for item in array:  # noqa: SIM110
        if item == value and _kind(item) == kind:
            return True
    return False


# Generic operators, for reference-vs-reference and for folding constant-vs-constant.


def _eq(a: Any, b: Any) -> bool:
    ka = _kind(a)
    return ka <= _STRING and ka == _kind(b) and a == b


def _ne(a: Any, b: Any) -> bool:
    ka = _kind(a)
    return ka <= _STRING and ka == _kind(b) and a != b


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def op(a: Any, b: Any) -> bool:
        ka = _kind(a)
        return _NUMBER <= ka <= _STRING and ka == _kind(b) and compare(a, b)

    return op


def _contains(a: Any, b: Any) -> bool:
    return _kind(a) == _STRING and _kind(b) == _STRING and b in a


def _has(a: Any, b: Any) -> bool:
    kb = _kind(b)
    return _kind(a) == _ARRAY and kb <= _STRING and _array_has(a, b, kb)


def _in(a: Any, b: Any) -> bool:
    return _has(b, a)


def _not_in(a: Any, b: Any) -> bool:
    ka = _kind(a)
    return ka <= _STRING and _kind(b) == _ARRAY and not _array_has(b, a, ka)


_GENERIC: dict[str, Callable[[Any, Any], bool]] = {
    EQ: _eq,
    NE: _ne,
    LT: _ordered(lambda a, b: a < b),
    GT: _ordered(lambda a, b: a > b),
    LE: _ordered(lambda a, b: a <= b),
    GE: _ordered(lambda a, b: a >= b),
    CONTAINS: _contains,
    HAS: _has,
    IN: _in,
    NOT_IN: _not_in,
}

# `constant OP x` rewritten as `x MIRROR[OP] constant`, so only "constant on the right" needs
# specialised tests.
_MIRROR: dict[str, str] = {
    EQ: EQ,
    NE: NE,
    LT: GT,
    GT: LT,
    LE: GE,
    GE: LE,
    CONTAINS: _CONTAINED_IN,
    HAS: IN,
    IN: HAS,
    NOT_IN: _LACKS,
}

# Tests against a constant, built once per comparison: the constant's kind is known, so a
# test is one kind lookup and one Python comparison. None means "false for every value".
_Test: TypeAlias = Callable[[Any], bool]


def _test_eq(c: Any, kc: int) -> _Test | None:
    if kc > _STRING:
        return None
    return lambda v: v == c and _kind(v) == kc


def _test_ne(c: Any, kc: int) -> _Test | None:
    if kc > _STRING:
        return None
    return lambda v: _kind(v) == kc and v != c


def _orderable(make: Callable[[Any, int], _Test]) -> Callable[[Any, int], _Test | None]:
    return lambda c, kc: make(c, kc) if _NUMBER <= kc <= _STRING else None


def _test_contains(c: Any, kc: int) -> _Test | None:
    return (lambda v: _kind(v) == _STRING and c in v) if kc == _STRING else None


def _test_contained_in(c: Any, kc: int) -> _Test | None:
    return (lambda v: _kind(v) == _STRING and v in c) if kc == _STRING else None


def _test_has(c: Any, kc: int) -> _Test | None:
    if kc > _STRING:
        return None
    return lambda v: _kind(v) == _ARRAY and _array_has(v, c, kc)


def _test_lacks(c: Any, kc: int) -> _Test | None:
    if kc > _STRING:
        return None
    return lambda v: _kind(v) == _ARRAY and not _array_has(v, c, kc)


def _members(c: Any) -> frozenset[tuple[int, Any]]:
    # Pairing each member with its kind keeps True and 1 apart; 1 and 1.0 hash alike.
    return frozenset((_kind(item), item) for item in c)


def _test_in(c: Any, kc: int) -> _Test | None:
    if kc != _ARRAY:
        return None
    members = _members(c)
    return lambda v: (k := _kind(v)) <= _STRING and (k, v) in members


def _test_not_in(c: Any, kc: int) -> _Test | None:
    if kc != _ARRAY:
        return None
    members = _members(c)
    return lambda v: (k := _kind(v)) <= _STRING and (k, v) not in members


_CONSTANT_TESTS: dict[str, Callable[[Any, int], _Test | None]] = {
    EQ: _test_eq,
    NE: _test_ne,
    LT: _orderable(lambda c, kc: lambda v: _kind(v) == kc and v < c),
    GT: _orderable(lambda c, kc: lambda v: _kind(v) == kc and v > c),
    LE: _orderable(lambda c, kc: lambda v: _kind(v) == kc and v <= c),
    GE: _orderable(lambda c, kc: lambda v: _kind(v) == kc and v >= c),
    CONTAINS: _test_contains,
    _CONTAINED_IN: _test_contained_in,
    HAS: _test_has,
    IN: _test_in,
    NOT_IN: _test_not_in,
    _LACKS: _test_lacks,
}


def _getter(path: tuple[str | int, ...]) -> Callable[[Mapping[str, Any]], Any]:
    head = path[0]
    if len(path) == 1:
        return lambda attributes: attributes.get(head)
    steps = path[1:]

    def get(attributes: Mapping[str, Any]) -> Any:
        value = attributes.get(head)
        for step in steps:
            if step.__class__ is int:
                if not isinstance(value, list | tuple) or step >= len(value):
                    return None
                value = value[step]
            elif type(value) is dict or isinstance(value, Mapping):
                value = value.get(step)
            else:
                return None
        return value

    return get


def _always_true(attributes: Mapping[str, Any]) -> bool:
    return True


def _always_false(attributes: Mapping[str, Any]) -> bool:
    return False


# (evaluator, constant result or None when it depends on the attributes)
_Compiled: TypeAlias = tuple[_Evaluator, bool | None]
_CONSTANT: dict[bool, _Compiled] = {True: (_always_true, True), False: (_always_false, False)}


def _compile(node: Node) -> _Compiled:
    if isinstance(node, Comparison):
        return _compile_comparison(node)
    is_all = isinstance(node, AllOf)
    # AND: a false condition decides, true ones can be dropped; OR the other way round.
    decisive = not is_all
    evaluators: list[_Evaluator] = []
    for condition in node.conditions:
        evaluator, constant = _compile(condition)
        if constant is decisive:
            return _CONSTANT[decisive]
        if constant is None:
            evaluators.append(evaluator)
    if not evaluators:
        return _CONSTANT[not decisive]
    if len(evaluators) == 1:
        return evaluators[0], None
    if len(evaluators) == 2:
        first, second = evaluators
        if is_all:
            return (lambda attributes: first(attributes) and second(attributes)), None
        return (lambda attributes: first(attributes) or second(attributes)), None
    conditions = tuple(evaluators)
    if is_all:

        def all_of(attributes: Mapping[str, Any]) -> bool:
            for condition in conditions:  # noqa: SIM110 - all() would build a generator per call
                if not condition(attributes):
                    return False
            return True

        return all_of, None

    def any_of(attributes: Mapping[str, Any]) -> bool:
        for condition in conditions:  # noqa: SIM110 - any() would build a generator per call
            if condition(attributes):
                return True
        return False

    return any_of, None


def _compile_comparison(node: Comparison) -> _Compiled:
    operator, left, right = node.operator, node.left, node.right
    if isinstance(left, Constant) and isinstance(right, Constant):
        return _CONSTANT[bool(_GENERIC[operator](left.value, right.value))]
    if isinstance(left, Constant):
        operator, left, right = _MIRROR[operator], right, left
    assert isinstance(left, Reference)
    if isinstance(right, Constant):
        test = _CONSTANT_TESTS[operator](right.value, _kind(right.value))
        if test is None:
            return _CONSTANT[False]
        if len(left.path) == 1:  # the common case: one call fewer
            key = left.path[0]
            return (lambda attributes: test(attributes.get(key))), None
        get = _getter(left.path)
        return (lambda attributes: test(get(attributes))), None
    get_left, get_right, op = _getter(left.path), _getter(right.path), _GENERIC[operator]
    return (lambda attributes: op(get_left(attributes), get_right(attributes))), None
