"""Constrained output: JSON mode, JSON-schema replies and raw GBNF grammars.

Every constraint reaches the engine as a GBNF ``grammar``, on the chat path as on the completion
path. wllama 3.8.1's own ``json_schema`` / ``response_format`` on the chat path fails with
"Failed to initialize samplers" for some models in jinja mode (wllama's default), and its jinja
JSON grammar also admits a ```json fence; a grammar written here works on both paths for every
model tried, keeps the model's own chat template and the KV cache reuse of the chat path.

The schema subset (the same for the grammar and the validator): ``type`` (one or a list),
``properties``, ``required``, ``additionalProperties`` (``false`` in the grammar), ``items``,
``minItems``, ``maxItems``, ``enum``, ``const``, ``minimum``, ``maximum``, ``minLength``,
``maxLength``, ``anyOf``/``oneOf``, plus annotations (``title``, ``description``, ...).
Anything else is refused with a ``ParameterError`` rather than silently ignored.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import OutputFormatError, ParameterError

ANNOTATIONS = frozenset(
    {"$schema", "$id", "title", "description", "default", "examples", "$comment"}
)
SUPPORTED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "anyOf",
        "oneOf",
    }
)
JSON_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")

# Shared rules (the subset of llama.cpp's json.gbnf the generated grammars use).
# Whitespace is bounded so a model cannot spend its whole budget on spaces.
_PRIMITIVES = {
    "ws": r'| " " | "\n" [ \t]{0,20}',
    "char": r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})',
    "string": r'"\"" char* "\"" ws',
    "integer": r'"-"? ("0" | [1-9] [0-9]{0,15}) ws',
    "number": r'"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? ws',
    "boolean": r'("true" | "false") ws',
    "null": r'"null" ws',
}
_ANY_VALUE = {
    "value": "object | array | string | number | boolean | null",
    "object": r'"{" ws (string ":" ws value ("," ws string ":" ws value)*)? "}" ws',
    "array": r'"[" ws (value ("," ws value)*)? "]" ws',
}


def check_schema(schema: Any, path: str = "schema") -> None:
    """Refuse schemas outside the supported subset, naming the offending keyword."""
    if schema is True or schema == {}:
        return
    if not isinstance(schema, dict):
        raise ParameterError(f"{path} must be a JSON object, not {type(schema).__name__}.")
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key not in SUPPORTED:
            raise ParameterError(
                f"{path}: the keyword {key!r} is not supported (supported: "
                f"{', '.join(sorted(SUPPORTED))})."
            )
        if key == "type":
            types = value if isinstance(value, list) else [value]
            bad = [t for t in types if t not in JSON_TYPES]
            if bad or not types:
                raise ParameterError(f"{path}: unknown type {bad or value!r}.")
        elif key == "properties":
            if not isinstance(value, dict):
                raise ParameterError(f"{path}.properties must be an object.")
            for name, sub in value.items():
                check_schema(sub, f"{path}.properties.{name}")
        elif key == "required":
            if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
                raise ParameterError(f"{path}.required must be a list of property names.")
        elif key == "items":
            check_schema(value, f"{path}.items")
        elif key in ("anyOf", "oneOf"):
            if not isinstance(value, list) or not value:
                raise ParameterError(f"{path}.{key} must be a non-empty list of schemas.")
            for i, sub in enumerate(value):
                check_schema(sub, f"{path}.{key}[{i}]")
        elif key in ("enum",) and (not isinstance(value, list) or not value):
            raise ParameterError(f"{path}.enum must be a non-empty list.")
        elif key == "additionalProperties" and not isinstance(value, bool | dict):
            raise ParameterError(f"{path}.additionalProperties must be true, false or a schema.")
        elif key in ("minItems", "maxItems", "minLength", "maxLength") and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ):
            raise ParameterError(f"{path}.{key} must be a non-negative integer.")
        elif key in ("minimum", "maximum") and not (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            raise ParameterError(f"{path}.{key} must be a number.")


# ---- schema → GBNF --------------------------------------------------------------------------


def _literal(value: Any) -> str:
    """A GBNF string literal matching ``value`` serialised as compact JSON."""
    text = json.dumps(value, ensure_ascii=False)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class _GrammarBuilder:
    rules: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def add(self, hint: str, body: str) -> str:
        name = re.sub(r"[^a-zA-Z0-9-]+", "-", hint).strip("-").lower() or "r"
        if name in _PRIMITIVES or name in _ANY_VALUE or name == "root":
            name += "-r"
        candidate, n = name, 1
        while candidate in self.rules and self.rules[candidate] != body:
            n += 1
            candidate = f"{name}-{n}"
        self.rules[candidate] = body
        return candidate

    def ref(self, primitive: str) -> str:
        self.used.add(primitive)
        if primitive in _ANY_VALUE:
            self.used.update(_ANY_VALUE)
            self.used.update(_PRIMITIVES)
        return primitive

    def visit(self, schema: Any, hint: str) -> str:
        """A GBNF expression for ``schema`` (a rule name, or a literal alternation)."""
        if schema is True or schema == {} or schema is None:
            return self.ref("value")
        if "const" in schema:
            self.ref("ws")
            return f"{_literal(schema['const'])} ws"
        if "enum" in schema:
            self.ref("ws")
            return "(" + " | ".join(_literal(v) for v in schema["enum"]) + ") ws"
        choices = schema.get("anyOf") or schema.get("oneOf")
        if choices:
            parts = [self.visit(sub, f"{hint}-{i}") for i, sub in enumerate(choices)]
            return self.add(hint, " | ".join(parts))
        kind = schema.get("type")
        if isinstance(kind, list):
            parts = [self.visit({**schema, "type": t}, f"{hint}-{t}") for t in kind]
            return self.add(hint, " | ".join(parts))
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if kind == "object":
            return self._object(schema, hint)
        if kind == "array":
            return self._array(schema, hint)
        if kind == "string":
            return self._string(schema, hint)
        if kind in ("integer", "number", "boolean", "null"):
            self.ref("ws")
            return self.ref(kind)
        return self.ref("value")

    def _object(self, schema: dict[str, Any], hint: str) -> str:
        properties: dict[str, Any] = schema.get("properties") or {}
        if not properties:
            self.ref("value")
            return "object"
        required = set(schema.get("required") or [])
        self.ref("ws")
        pairs = {
            name: f'{_literal(name)} ws ":" ws {self.visit(sub, f"{hint}-{name}")}'
            for name, sub in properties.items()
        }
        must = [pairs[n] for n in properties if n in required]
        optional = [pairs[n] for n in properties if n not in required]
        # optional properties keep their order and may each be left out
        chain = ""
        for i in range(len(optional) - 1, -1, -1):
            rest = f' ("," ws {chain})?' if chain else ""
            alternatives = [optional[i] + rest] + ([chain] if chain else [])
            chain = self.add(f"{hint}-opt-{i}", " | ".join(alternatives))
        body = ' "," ws '.join(must)
        if must and chain:
            body += f' ("," ws {chain})?'
        elif chain:
            body = f"({chain})?"
        return self.add(hint, f'"{{" ws {body} "}}" ws')

    def _array(self, schema: dict[str, Any], hint: str) -> str:
        item = self.visit(schema.get("items", True), f"{hint}-item")
        low = schema.get("minItems", 0)
        high = schema.get("maxItems")
        if high is not None and high < low:
            raise ParameterError(f"{hint}: maxItems is smaller than minItems.")
        self.ref("ws")
        if high == 0:
            return self.add(hint, '"[" ws "]" ws')
        upper = "" if high is None else str(high - 1)
        more = f'("," ws {item}){{{max(low - 1, 0)},{upper}}}'
        items = f"{item} {more}"
        body = items if low > 0 else f"({items})?"
        return self.add(hint, f'"[" ws {body} "]" ws')

    def _string(self, schema: dict[str, Any], hint: str) -> str:
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        if high is not None and high < low:
            raise ParameterError(f"{hint}: maxLength is smaller than minLength.")
        if low == 0 and high is None:
            return self.ref("string")
        self.ref("char")
        self.ref("ws")
        upper = "" if high is None else str(high)
        return self.add(hint, f'"\\"" char{{{low},{upper}}} "\\"" ws')

    def render(self, root: str) -> str:
        lines = [f"root ::= {root}"]
        lines += [f"{name} ::= {body}" for name, body in self.rules.items()]
        shared = {**_PRIMITIVES, **_ANY_VALUE}
        if "string" in self.used:
            self.used.add("char")
        lines += [f"{name} ::= {shared[name]}" for name in shared if name in self.used]
        return "\n".join(lines) + "\n"


def schema_to_grammar(schema: Any) -> str:
    """A GBNF grammar accepting exactly JSON documents of ``schema`` (optional leading space)."""
    check_schema(schema)
    builder = _GrammarBuilder()
    root = builder.visit(schema, "root-value")
    builder.ref("ws")
    return builder.render(f"ws {root}")


JSON_GRAMMAR = schema_to_grammar({"type": "object"})
"""JSON mode without a schema: any JSON object."""


# ---- validation -----------------------------------------------------------------------------


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
    }[kind]
    return isinstance(value, expected)


def schema_errors(value: Any, schema: Any, path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (empty when it conforms); the subset above only."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path}: no value is allowed here"]
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {json.dumps(schema['const'])}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: must be one of {json.dumps(schema['enum'])}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matches = sum(not schema_errors(value, sub, path) for sub in schema[key])
            if matches == 0 or (key == "oneOf" and matches > 1):
                errors.append(f"{path}: matches {matches} of the {key} schemas")
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_type_ok(value, k) for k in kinds):
            return [*errors, f"{path}: expected {' or '.join(kinds)}, got {_json_type(value)}"]
    if isinstance(value, dict):
        errors += _object_errors(value, schema, path)
    elif isinstance(value, list):
        errors += _array_errors(value, schema, path)
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: more than the maximum {schema['maximum']}")
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = [
        f"{path}: missing required property {name!r}"
        for name in schema.get("required", [])
        if name not in value
    ]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(item, properties[name], f"{path}.{name}")
        elif extra is False:
            errors.append(f"{path}: unexpected property {name!r}")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, f"{path}.{name}")
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    return errors


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if not (isinstance(value, float) and math.isnan(value)) else "NaN"
    return {dict: "object", list: "array", str: "string"}.get(type(value), type(value).__name__)


# ---- the format a reply must have ------------------------------------------------------------


class FormatKind(StrEnum):
    TEXT = "text"
    JSON = "json"  # any JSON object
    JSON_SCHEMA = "json_schema"
    GRAMMAR = "grammar"  # raw GBNF


@dataclass(frozen=True)
class ResponseFormat:
    """What a reply must look like; build with ``text()``, ``json()``, ``json_schema()``,
    ``gbnf()``."""

    kind: FormatKind = FormatKind.TEXT
    schema: Any = None
    grammar: str = ""

    @classmethod
    def text(cls) -> ResponseFormat:
        return cls()

    @classmethod
    def json(cls) -> ResponseFormat:
        return cls(FormatKind.JSON, grammar=JSON_GRAMMAR)

    @classmethod
    def json_schema(cls, schema: Any) -> ResponseFormat:
        return cls(FormatKind.JSON_SCHEMA, schema=schema, grammar=schema_to_grammar(schema))

    @classmethod
    def gbnf(cls, grammar: str) -> ResponseFormat:
        if "root" not in grammar or "::=" not in grammar:
            raise ParameterError("A GBNF grammar needs a 'root ::= ...' rule.")
        return cls(FormatKind.GRAMMAR, grammar=grammar)

    @classmethod
    def from_schema_text(cls, text: str) -> ResponseFormat:
        """JSON mode from the page: an empty schema box means any JSON object."""
        if not text.strip():
            return cls.json()
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as error:
            raise ParameterError(f"The JSON schema is not valid JSON: {error}.") from None
        return cls.json_schema(schema)

    @property
    def is_json(self) -> bool:
        return self.kind in (FormatKind.JSON, FormatKind.JSON_SCHEMA)

    def parse(self, text: str) -> Any:
        """The reply as a Python value, checked against the schema; text formats pass through."""
        if not self.is_json:
            return text
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise OutputFormatError(
                f"The reply is not complete JSON ({error.msg} at character {error.pos}); "
                "it may have hit the max tokens limit."
            ) from None
        schema = self.schema if self.kind is FormatKind.JSON_SCHEMA else {"type": "object"}
        if errors := schema_errors(value, schema):
            raise OutputFormatError("The reply does not match the schema: " + "; ".join(errors))
        return value
