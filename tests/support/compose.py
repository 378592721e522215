"""Compose files read as `docker compose` reads them, without docker: the YAML, then every string
value interpolated from the environment (``$VAR``, ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, ``$$``). Compose
interpolates every service of every file given, whatever its profile."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
BRACED = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<colon>:?)(?P<op>[-?+])(?P<arg>.*))?", re.S
)


@dataclass
class Interpolation:
    """The environment, and what interpolating with it found: the variables whose absence
    stops compose (``?`` forms: name → message) and those it blanks with a warning."""

    env: Mapping[str, str]
    required: dict[str, str] = field(default_factory=dict)
    blanked: set[str] = field(default_factory=set)

    def text(self, value: str) -> str:
        return REFERENCE.sub(self._one, value)

    def _one(self, match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return self._plain(match["named"])
        braced = BRACED.fullmatch(match["braced"])
        assert braced, f"not a compose variable: {match[0]}"
        name, op, arg = braced["name"], braced["op"], braced["arg"]
        if op is None:
            return self._plain(name)
        value = self.env.get(name)
        unset = value is None or (braced["colon"] == ":" and value == "")
        if op == "?" and unset:
            self.required[name] = arg
            return ""
        if op == "-" and unset:
            return self.text(arg)
        if op == "+":
            return "" if unset else self.text(arg)
        return value or ""

    def _plain(self, name: str) -> str:
        if name not in self.env:
            self.blanked.add(name)
        return self.env.get(name, "")

    def document(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, list):
            return [self.document(item) for item in node]
        if isinstance(node, dict):
            return {key: self.document(value) for key, value in node.items()}
        return node


def load(files: list[Path], env: Mapping[str, str]) -> tuple[dict[str, Any], Interpolation]:
    """The files interpolated and merged in order (mappings merged key by key, anything else
    replaced, as compose merges ``-f a -f b``)."""
    interpolation = Interpolation(env)
    merged: dict[str, Any] = {}
    for path in files:
        merged = merge(merged, interpolation.document(yaml.safe_load(path.read_text())))
    return merged, interpolation


def merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in override.items()}}
    return override
