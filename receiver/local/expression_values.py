"""What GitHub's expression values mean: kinds, truthiness, text, comparison, indexing, toJSON.

Values are plain Python: None, bool, int/float (IEEE doubles, as in GitHub's evaluator), str,
list and dict (keys matched ignoring case). The rules are those of GitHub's own evaluator (npm
``@actions/expressions``), which is written in JavaScript, so numbers parse and print as
JavaScript's do; tests/test_expressions_oracle.py checks them against it. GitHub's runner
(C#) prints numbers differently (15 significant digits, "1E-05"); a number whose text the two
would disagree on is refused (NumberTextDiffers) rather than printed one way or the other.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any


class ExpressionError(ValueError):
    """An expression could not be parsed or evaluated."""


class NumberTextDiffers(ExpressionError):
    """A number GitHub's runner and its npm evaluator would write differently as text."""


# JavaScript's white space (/\s/ and String.prototype.trim): ASCII, NBSP, BOM, Unicode Zs, LS, PS.
JS_SPACE = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
JS_SPACE += "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_RADIX = {"x": 16, "o": 8, "b": 2}
_NON_DECIMAL = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def js_number(text: str) -> float:
    """JavaScript's ``Number(text)``: trimmed, empty is 0, hex/octal/binary, NaN if not a number."""
    text = text.strip(JS_SPACE)
    if not text:
        return 0.0
    if _DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    if _NON_DECIMAL.fullmatch(text):
        try:
            return float(int(text[2:], _RADIX[text[1].lower()]))
        except OverflowError:
            return math.inf
    return math.nan


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_DECIMALS = Context(prec=80)  # enough digits to round any double below 1e21 to 15 decimals


class FilteredArray(list[Any]):
    """The result of a ``.*`` filter: indexing it indexes every item (GitHub's FilteredArray)."""


def kind_of(value: Any) -> str:
    """GitHub's kind of a value: null, boolean, number, string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "string"


def is_primitive(value: Any) -> bool:
    """Everything but arrays and objects, which GitHub's string functions do not look into."""
    return kind_of(value) not in ("array", "object")


def to_number(value: Any) -> float:
    """GitHub's number coercion: null 0, booleans 0/1, strings as JavaScript, containers NaN."""
    kind = kind_of(value)
    if kind in ("null", "boolean"):
        return 1.0 if value else 0.0
    if kind == "number":
        try:
            return float(value)
        except OverflowError:  # an int beyond the double range
            return math.inf if value > 0 else -math.inf
    return js_number(value) if kind == "string" else math.nan


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, NaN, "" and null are falsy; arrays and objects are truthy."""
    if kind_of(value) == "number":
        return not (value == 0 or math.isnan(value))
    return value not in (None, False, "")


def js_text(number: float) -> str:
    """JavaScript's ``String(number)``: shortest round-trip digits; exponent below 1e-6, ≥ 1e21."""
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if number == 0:
        return "0"
    mantissa, _, exp = repr(abs(number)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    n = len(digits) + int(exp or 0) - len(frac)  # value = 0.digits × 10^n
    stripped = digits.rstrip("0")
    k = len(stripped)
    sign = "-" if number < 0 else ""
    if k <= n <= 21:
        return sign + stripped + "0" * (n - k)
    if 0 < n <= 21:
        return f"{sign}{stripped[:n]}.{stripped[n:]}"
    if -6 < n <= 0:
        return f"{sign}0.{'0' * -n}{stripped}"
    e = f"{n - 1:+d}"
    return f"{sign}{stripped[0]}{'.' + stripped[1:] if k > 1 else ''}e{e}"


def runner_text(number: float) -> str:
    """How GitHub's runner writes a number: .NET's ``ToString("G15")``, 15 significant digits."""
    if not math.isfinite(number):
        return js_text(number)
    return format(number, ".15g").replace("e", "E")  # the same thresholds and 2-digit exponent


def _agreed(number: float, text: str) -> str:
    """`text`, if GitHub's runner writes `number` the same way; else refuse rather than guess."""
    runner = runner_text(number)
    if text != runner:
        raise NumberTextDiffers(
            f"GitHub's runner writes this number as {runner}, its npm evaluator as {text}; "
            f"quote it ('{text}') to get one text everywhere."
        )
    return text


def number_text(number: float) -> str:
    """A number as text: npm's ``String(+number.toFixed(15))``, where the runner's G15 agrees."""
    if number == 0 or not math.isfinite(number) or abs(number) >= 1e21:
        return _agreed(number, js_text(number))
    fixed = Decimal(number).quantize(Decimal("1e-15"), ROUND_HALF_UP, _DECIMALS)
    return _agreed(number, js_text(float(fixed)) if fixed else "0")


def to_string(value: Any) -> str:
    """How a value reads as text (GitHub's coerceString): arrays are "Array", objects "Object"."""
    kind = kind_of(value)
    if kind == "null":
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "number":
        return number_text(to_number(value))
    if kind == "array":
        return "Array"
    return "Object" if kind == "object" else str(value)


def upper(text: str) -> str:
    """Upper case as GitHub compares strings: every character but the dotless ı."""
    return "ı".join(part.upper() for part in text.split("ı"))


def coerce(a: Any, b: Any) -> tuple[Any, Any]:
    """GitHub's coercion before comparing: null and booleans become numbers, then strings too."""
    ka, kb = kind_of(a), kind_of(b)
    if ka == kb:
        return a, b
    if ka in ("null", "boolean"):
        return coerce(to_number(a), b)
    if kb in ("null", "boolean"):
        return coerce(a, to_number(b))
    if {ka, kb} == {"number", "string"}:
        return to_number(a), to_number(b)
    return a, b


def equal(a: Any, b: Any) -> bool:
    """GitHub's ``==``: coerced, strings ignoring case, NaN unequal, containers by identity."""
    a, b = coerce(a, b)
    kind = kind_of(a)
    if kind != kind_of(b):
        return False
    if kind == "number":
        return bool(float(a) == float(b))
    if kind == "string":
        return upper(a) == upper(b)
    if kind in ("array", "object"):
        return a is b
    return bool(a == b)


def greater(a: Any, b: Any) -> bool:
    """GitHub's ``>``: coerced; false across kinds, for NaN and for arrays and objects."""
    a, b = coerce(a, b)
    kind = kind_of(a)
    if kind != kind_of(b) or kind not in ("number", "string", "boolean"):
        return False
    if kind == "string":
        # JavaScript orders strings by UTF-16 code unit; big-endian bytes sort the same way.
        a, b = (upper(s).encode("utf-16-be", "surrogatepass") for s in (a, b))
    return bool(a > b)


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    ">": greater,
    "<": lambda a, b: greater(b, a),
    ">=": lambda a, b: equal(a, b) or greater(a, b),
    "<=": lambda a, b: equal(a, b) or greater(b, a),
}


def pairs(obj: Mapping[Any, Any]) -> dict[str, tuple[str, Any]]:
    """Keys folded to lower case → (key, value); the first of keys differing in case wins."""
    folded: dict[str, tuple[str, Any]] = {}
    for key, value in obj.items():
        folded.setdefault(str(key).lower(), (str(key), value))
    return folded


def get_key(obj: Mapping[Any, Any], key: str) -> Any:
    """``obj[key]`` ignoring case; None when missing."""
    if key in obj:  # the common case; a case-folded duplicate key earlier would be a rare quirk
        return obj[key]
    found = pairs(obj).get(key.lower())
    return None if found is None else found[1]


def index(obj: Any, key: Any, star: bool) -> Any:
    """``obj[key]`` (or ``obj.*`` when star) as GitHub's evaluator does it."""
    name = to_string(key) if not star and is_primitive(key) else None
    number = math.nan if star else to_number(key)
    position = math.floor(number) if math.isfinite(number) and number >= 0 else None
    if isinstance(obj, FilteredArray):
        found = FilteredArray()
        for item in obj:
            if isinstance(item, Mapping):
                folded = pairs(item)
                if star:
                    found.extend(v for _, v in folded.values())
                elif name is not None and name.lower() in folded:
                    found.append(folded[name.lower()][1])
            elif isinstance(item, list):
                if star:
                    found.extend(item)
                elif position is not None and position < len(item):
                    found.append(item[position])
        return found
    if isinstance(obj, list):
        if star:
            return FilteredArray(obj)
        return obj[position] if position is not None and position < len(obj) else None
    if isinstance(obj, Mapping):
        if star:
            return FilteredArray(v for _, v in pairs(obj).values())
        return get_key(obj, name) if name is not None else None
    return FilteredArray() if star else None


def to_json(value: Any, indent: str = "") -> str:
    """GitHub's toJSON(): JSON.stringify with two-space indent and JavaScript number text."""
    kind, inner = kind_of(value), indent + "  "
    if kind in ("null", "boolean"):
        return json.dumps(value)
    if kind == "number":
        number = to_number(value)
        return _agreed(number, js_text(number) if math.isfinite(number) else "null")
    if kind == "string":
        return _json_string(str(value))
    if not value:
        return "[]" if kind == "array" else "{}"
    if kind == "array":
        items = [inner + to_json(item, inner) for item in value]
    else:
        items = [f"{inner}{_json_string(k)}: {to_json(v, inner)}" for k, v in pairs(value).values()]
    brackets = "[]" if kind == "array" else "{}"
    return brackets[0] + "\n" + ",\n".join(items) + "\n" + indent + brackets[1]


def _json_string(text: str) -> str:
    """A JSON string as JavaScript writes it: non-ASCII kept, lone surrogates escaped."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
