"""Pydantic helpers that turn validation failures into messages naming YAML paths."""

from __future__ import annotations

import difflib
from typing import Any

import pydantic

from within.errors import ConfigError


class StrictModel(pydantic.BaseModel):
    """A pydantic model that refuses unknown keys and lists the accepted ones.

    Pydantic's own ``extra="forbid"`` says a key is not permitted but not which keys
    are, so the check happens here, before field validation.
    """

    # Strict: YAML already gives numbers, booleans and strings their own types,
    # so `true` for a count or "3" for a depth is a mistake to report, not to
    # coerce (ints are still accepted where a float is expected).
    model_config = pydantic.ConfigDict(extra="forbid", frozen=False, strict=True)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # A field with an alias is written under its alias only.
            accepted = {f.alias or name for name, f in cls.model_fields.items()}
            unknown = [key for key in data if key not in accepted]
            if unknown:
                key = unknown[0]
                hint = difflib.get_close_matches(str(key), sorted(accepted), n=1)
                did_you_mean = f' (did you mean "{hint[0]}"?)' if hint else ""
                raise ValueError(
                    f'unknown key "{key}"{did_you_mean}; accepted keys: '
                    + ", ".join(sorted(accepted))
                )
        return data


def format_location(location: tuple | list) -> str:
    """Join a pydantic error location into a dotted YAML path, ``a.b[0].c``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validate(model: type[pydantic.BaseModel], data: Any, prefix: str = ""):
    """Validate ``data`` against ``model``; raise :class:`ConfigError` on failure.

    The first error is reported, its path prefixed with ``prefix``. Every error is
    also kept on the exception as ``errors`` for callers that want them all.
    """
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        messages = []
        for error in exc.errors(include_url=False):
            location = [p for p in error["loc"] if not str(p).startswith("function-")]
            # Pydantic names union members and tagged types in the location; a user
            # only knows the YAML keys.
            location = [p for p in location if not _is_type_tag(p)]
            path = format_location(([prefix] if prefix else []) + location)
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            if error["type"] not in ("value_error", "assertion_error"):
                message += f"; got {_short(error.get('input'))}"
            messages.append((path, message))
        path, message = messages[0]
        err = ConfigError(path, message)
        err.errors = messages
        raise err from None


def _is_type_tag(part: Any) -> bool:
    text = str(part)
    return text in {"str", "int", "float", "bool", "list", "dict"} or text.startswith(
        ("list[", "dict[", "literal[", "constrained-")
    )


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
