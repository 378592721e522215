"""Lone surrogates: what Python's json module reads from an unpaired ``\\ud800`` escape. It is
not Unicode text: UTF-8 cannot encode it and orjson refuses to write it, so a command holding one
is refused at the door, naming the JSON path of each string (or key) at fault."""

from __future__ import annotations

import json
import re
from typing import Any

from baas.core.problems import FieldError

_LONE = re.compile(r"[\ud800-\udfff]")
MESSAGE = "holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not Unicode text"


def is_text(value: str) -> bool:
    """False for a string holding a lone surrogate (JSON's ``"\\ud800"``, or bytes that are not
    UTF-8 in a command line): it can be neither stored nor shown."""
    return value.isascii() or not _LONE.search(value)


def printable(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (``\\ud800``): safe to answer."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def lone_surrogates(document: Any) -> list[FieldError]:
    """One error per string or key of a parsed JSON document that holds a lone surrogate."""
    found = []
    stack = [(document, "")]
    while stack:  # iterative: a document may be nested as deep as its parser allowed
        value, path = stack.pop()
        if isinstance(value, str):
            if _LONE.search(value):
                found.append(FieldError(path, MESSAGE))
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{path}.{printable(key)}" if path else printable(key)
                if _LONE.search(key):
                    found.append(FieldError(inner, f"(the name) {MESSAGE}"))
                stack.append((item, inner))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))
    return sorted(found, key=lambda error: error.path)


def lone_surrogates_in_json(body: bytes) -> list[FieldError]:
    """The lone surrogates of a JSON body, as Python's json module reads it; [] when it does not
    read it, or finds none."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []
    return lone_surrogates(document)
