"""The Python builders of the store's function calls (baas/store/functions.py) against the Lua
functions (functions.lua): the same names for the same KEYS and ARGV, in the same order."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from baas.store import functions

LUA = (Path(functions.__file__).parent / "functions.lua").read_text()

REGISTERED = dict(re.findall(r"redis\.register_function\('(\w+)', (\w+)\)", LUA))
BUILDERS = [
    builder
    for _, builder in inspect.getmembers(functions, inspect.isfunction)
    if builder.__module__ == functions.__name__
]
NAMED = r"(?:keys|args)\[\d+\]"
# `local a, b = keys[1], keys[2]` (over several lines, too) or `local rest_of = rest(args, 3)`
LOCALS = re.compile(rf"local ([\w,\s]+?)\s*=\s*({NAMED}(?:,\s*{NAMED})*)\n")
TAIL = re.compile(r"local (\w+) = rest\((keys|args), (\d+)\)")


def lua_body(local_name: str) -> str:
    match = re.search(rf"\nlocal function {local_name}\(keys, args\)\n(.*?)\nend\n", LUA, re.S)
    assert match, f"no local function {local_name}(keys, args) in functions.lua"
    return match.group(1)


def lua_interface(local_name: str) -> dict[str, list[str]]:
    """The Lua function's named KEYS and ARGV, and its tails' names, from its locals."""
    body = lua_body(local_name)
    found: dict[str, list[str]] = {"keys": [], "args": [], "Keys": [], "Args": []}
    for names, values in LOCALS.findall(body):
        names = [n.strip() for n in names.split(",")]
        refs = re.findall(r"(keys|args)\[(\d+)\]", values)
        assert len(names) == len(refs), f"{local_name}: {names} = {values}"
        for name, (table, index) in zip(names, refs, strict=True):
            assert int(index) == len(found[table]) + 1, f"{local_name}: {name} is {table}[{index}]"
            found[table].append(name)
    for name, table, first in TAIL.findall(body):
        assert int(first) == len(found[table]) + 1, f"{local_name}: {name} from {table}[{first}]"
        found[table.capitalize()].append(name)
    return found


def python_interface(builder: object) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"keys": [], "args": [], "Keys": [], "Args": []}
    kinds = {"Key": "keys", "Arg": "args", "Keys": "Keys", "Args": "Args"}
    for name, parameter in inspect.signature(builder).parameters.items():  # type: ignore[arg-type]
        found[kinds[parameter.annotation]].append(name)
    return found


def test_every_registered_function_has_a_builder() -> None:
    built = {builder(*_placeholders(builder)).function for builder in BUILDERS}
    assert built == set(REGISTERED)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_builder_names_match_the_lua_locals(builder) -> None:
    call = builder(*_placeholders(builder))
    lua = lua_interface(REGISTERED[call.function])
    python = python_interface(builder)
    assert python == lua
    assert len(lua["Keys"]) <= 1 and len(lua["Args"]) <= 1


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_builder_puts_each_value_where_its_name_is(builder) -> None:
    python = python_interface(builder)
    call = builder(*_placeholders(builder))
    tail = [f"{name}[]" for name in python["Keys"]]
    assert call.keys == (*python["keys"], *tail)
    assert call.args == (*python["args"], *[f"{name}[]" for name in python["Args"]])
    assert call.command()[:3] == ("FCALL", call.function, len(call.keys))


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_lua_reads_keys_and_args_only_through_its_names(builder) -> None:
    body = lua_body(REGISTERED[builder(*_placeholders(builder)).function])
    without_locals = TAIL.sub("", LOCALS.sub("", body))
    assert not re.search(r"\b(keys|args)\b", without_locals)


def _placeholders(builder: object) -> list[object]:
    """Each parameter's own name as its value (a tail: a list of one)."""
    parameters = inspect.signature(builder).parameters.items()  # type: ignore[arg-type]
    return [[f"{name}[]"] if p.annotation in ("Keys", "Args") else name for name, p in parameters]
