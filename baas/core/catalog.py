"""The schema catalog: which commands exist, in which versions, and how their data is checked.

A schema is named ``name/version`` (``submit-signal/1.0``); the command type is the name in
PascalCase (``SubmitSignal``). A new version is a new document; old versions stay accepted.
The catalog is built from documents already in memory; reading the files is ``schema_files``'.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from baas.core.memo import Memo
from baas.core.problems import FieldError

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_VERSION = re.compile(r"^\d+(\.\d+)*$")


def type_of(name: str) -> str:
    """``submit-signal`` → ``SubmitSignal``."""
    return "".join(part.capitalize() for part in name.split("-"))


@functools.lru_cache(maxsize=256)
def name_of(command_type: str) -> str:
    """``SubmitSignal`` → ``submit-signal``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", command_type).lower()


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class UnknownSchema(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class CommandSchema:
    name: str
    version: str
    document: Mapping[str, Any]
    validator: Any = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def command_type(self) -> str:
        return type_of(self.name)

    def is_valid(self, data: Any) -> bool:
        try:
            return self.validator.is_valid(data)
        except ValueError:  # the validator's recursion limit, on absurdly nested data
            return False

    def errors(self, data: Any, prefix: str = "data") -> list[FieldError]:
        """Every way ``data`` breaks the schema, each with the JSON path of the offending value."""
        try:
            if self.validator.is_valid(data):
                return []
            errors = list(self.validator.iter_errors(data))
        except ValueError as exc:  # the validator's recursion limit, on absurdly nested data
            return [FieldError(prefix, f"cannot be validated: {exc}")]
        found = []
        for error in errors:
            path = list(error.instance_path)
            missing = getattr(error.kind, "property", None)
            if missing is not None and error.schema_path and error.schema_path[-1] == "required":
                path.append(missing)
            found.append(FieldError(_json_path(prefix, path), error.message))
        return sorted(found, key=lambda e: e.path)


def _json_path(prefix: str, parts: list[str | int]) -> str:
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class SchemaCatalog:
    def __init__(self, documents: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        self._schemas: dict[str, dict[str, CommandSchema]] = {}
        self._resolved: Memo[tuple[str, str | None], CommandSchema] = Memo(1024)
        for (name, version), document in documents.items():
            if not _NAME.match(name) or not _VERSION.match(version):
                raise ValueError(f"bad schema name or version: {name}/{version}")
            validator = jsonschema_rs.validator_for(dict(document), validate_formats=True)
            self._schemas.setdefault(name, {})[version] = CommandSchema(
                name, version, document, validator
            )
        self._latest = {
            name: versions[max(versions, key=version_key)]
            for name, versions in self._schemas.items()
        }
        self._listing = [
            {"name": name, "versions": sorted(self._schemas[name], key=version_key)}
            for name in self._schemas
        ]

    def listing(self) -> list[dict[str, Any]]:
        """``[{"name": "submit-signal", "versions": ["1.0"]}, …]`` in a stable order."""
        return self._listing

    def get(self, name: str, version: str) -> CommandSchema:
        try:
            return self._schemas[name][version]
        except KeyError:
            raise UnknownSchema(f"{name}/{version}") from None

    def latest(self, name: str) -> CommandSchema:
        try:
            return self._latest[name]
        except KeyError:
            raise UnknownSchema(name) from None

    def command_types(self) -> list[str]:
        return [type_of(name) for name in self._schemas]

    def resolve(self, command_type: str, dataschema: str | None) -> CommandSchema:
        """The schema for a ``type`` and an optional ``dataschema`` reference.

        ``dataschema`` is ``name/version``; a URI whose path ends in ``/name/version`` (optionally
        ``.json``) is read the same way. Raises UnknownSchema with a message for the client.
        """
        schema = self._resolved.get((command_type, dataschema))
        if schema is None:
            schema = self._resolved.keep(
                (command_type, dataschema), self._find(command_type, dataschema)
            )
        return schema

    def _find(self, command_type: str, dataschema: str | None) -> CommandSchema:
        name = name_of(command_type)
        if dataschema is None:
            if name not in self._schemas:
                raise UnknownSchema(
                    f"unknown command type {command_type!r}; supported: "
                    + ", ".join(self.command_types())
                )
            return self._latest[name]
        ref = dataschema.removesuffix(".json").rstrip("/")
        parts = ref.rsplit("/", 2)
        if len(parts) < 2:
            raise UnknownSchema(
                f"{dataschema!r} is not of the form name/version (submit-signal/1.0)"
            )
        schema_name, version = parts[-2], parts[-1]
        if schema_name not in self._schemas:
            raise UnknownSchema(
                f"unknown schema {schema_name!r}; supported: " + ", ".join(self._schemas)
            )
        if version not in self._schemas[schema_name]:
            known = ", ".join(sorted(self._schemas[schema_name], key=version_key))
            raise UnknownSchema(f"unknown version {version!r} of {schema_name}; known: {known}")
        if schema_name != name:
            raise UnknownSchema(
                f"type {command_type!r} does not match dataSchema {schema_name!r} "
                f"(expected type {type_of(schema_name)!r})"
            )
        return self._schemas[schema_name][version]
