"""JSON-schema validation with one readable line per problem: what the workflow's config check
(:mod:`salprep.config_check`) and the registry's settings check
(:meth:`salprep.models.registry.ModelSpec.settings`) both report with. Each line names the key as
``a.b.c``, the value and what is allowed in words; schema defaults are filled in on the way.
"""

from __future__ import annotations

import difflib
import json
import math

def validator_class():
    """Draft 2020-12 with schema defaults filled in (as ``snakemake.utils.validate`` does) and a
    ``finite`` keyword (NaN and infinities pass every JSON-schema bound)."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError

    base_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, sub["default"])
        yield from base_properties(validator, props, instance, schema)

    def finite(validator, value, instance, schema):
        if value and isinstance(instance, float) and not math.isfinite(instance):
            yield ValidationError(f"{instance!r} is not a finite number")

    return validators.extend(Draft202012Validator, {"properties": properties, "finite": finite})


def schema_errors(instance, schema: dict, prefix: str = "") -> list[str]:
    """Every way ``instance`` breaks ``schema``, one line each, the most telling first (each
    names the key as ``prefix.key.key``, the value and what is allowed). Fills in the schema's
    defaults."""
    from jsonschema.exceptions import relevance

    errors = sorted(validator_class()(schema).iter_errors(instance), key=relevance, reverse=True)
    return [error_line(e, prefix)[0] for e in errors]


def _key(prefix: str, path) -> str:
    return ".".join([prefix, *map(str, path)] if prefix else map(str, path)) or "config"


def _show(value) -> str:
    text = json.dumps(value, default=str) if isinstance(value, (str, bool, dict, list)) or value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _either(items) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


_KINDS = {"integer": "an integer", "number": "a number", "boolean": "true or false", "string": "text",
          "object": "a mapping", "array": "a list", "null": "null"}
_BOUNDS = (("exclusiveMinimum", ">"), ("minimum", ">="), ("exclusiveMaximum", "<"), ("maximum", "<="))


def allowed(schema: dict) -> str:
    """What a leaf of a schema allows, in words: ``an integer >= 1``, ``a number > 0 and <= 1``,
    ``rmsprop or adam``."""
    if "enum" in schema:
        return _either(_show(v) if not isinstance(v, str) else v for v in schema["enum"])
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    text = " or ".join(_KINDS.get(k, k) for k in kinds) or "a value"
    bounds = [f"{sign} {schema[name]}" for name, sign in _BOUNDS if name in schema]
    if schema.get("finite"):
        text = text.replace("a number", "a finite number")
    if "pattern" in schema or "oneOf" in schema or "anyOf" in schema:
        text = _first_clause(schema.get("description", "")) or f"{text} matching {schema.get('pattern')}"
    return " and ".join([text + (" " + bounds[0] if bounds else ""), *bounds[1:]])


def _first_clause(text: str) -> str:
    """A description up to its first ';', without a parenthesis left open there."""
    clause = " ".join(text.split(";")[0].split())
    return clause[:clause.rfind(" (")] if clause.count("(") > clause.count(")") else clause


def error_line(error, prefix: str) -> tuple[str, list]:
    """(one line, the key path it names) of a jsonschema error."""
    from jsonschema.exceptions import best_match

    path, schema, value, kind = list(error.absolute_path), error.schema, error.instance, error.validator
    if kind in ("oneOf", "anyOf") and not (isinstance(schema, dict) and schema.get("description")) and error.context:
        return error_line(best_match(error.context), prefix)
    if kind == "additionalProperties" and isinstance(value, dict):
        known = sorted(schema.get("properties", {}))
        extra = sorted(k for k in value if k not in known)
        key = extra[0] if extra else "?"
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        more = f" (and {len(extra) - 1} more unknown keys)" if len(extra) > 1 else ""
        return (f"{_key(prefix, [*path, key])}: unknown key ({hint}known: {', '.join(known) or 'none'}){more}",
                [*path, key])
    if kind == "required":
        missing = [k for k in error.validator_value if not (isinstance(value, dict) and k in value)]
        return f"{_key(prefix, path)}: missing key {_either(missing)}", path
    if kind == "not" and isinstance(error.validator_value, dict) and "required" in error.validator_value:
        both = error.validator_value["required"]
        return f"{_key(prefix, path)}: give {_either(both)}, not both", path
    if kind in ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "oneOf",
                "anyOf", "finite"):
        line = f"{_key(prefix, path)}: {_show(value)} is not allowed: must be {allowed(schema)}"
        if isinstance(value, str) and kind == "type" and "number" in str(schema.get("type")):
            try:
                float(value)
            except ValueError:
                pass
            else:  # YAML 1.1 reads 1e-3 (no dot) as text
                line += f" (YAML reads {value} as text: write it with a dot, e.g. 1.0e-3)"
        return line, path
    return f"{_key(prefix, path)}: {error.message.splitlines()[0][:200]}", path


def and_more(n: int) -> str:
    """`` (and N more problems)`` after a first problem's line; empty for none."""
    return f" (and {n} more problem{'s' if n > 1 else ''})" if n > 0 else ""
