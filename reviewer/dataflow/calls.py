"""What a call does beyond carrying its arguments' taint: sources, sinks, container methods."""

from __future__ import annotations

import ast

from reviewer.dataflow.syntax import dotted
from reviewer.dataflow.tables import (
    BARE_SINKS,
    NOT_LDAP,
    PATH_METHODS,
    SAFE_LOADERS,
    SINK_FUNCTIONS,
    SINK_METHODS,
    SOURCE_CHAINS,
    XML_CALLS,
    XML_MODULES,
)
from reviewer.dataflow.values import CLEAN, Env, Val, carried, constant, hashable, mapping, reaching, sequence


def is_location(key: Val) -> bool:
    """Whether a header's key is `Location`: writing input there is a redirect."""
    return key.known and isinstance(key.const, str) and key.const.lower() == "location"


def is_source(chain: str, env: Env) -> bool:
    """`sys.argv[1]`, `os.environ.get(...)`, `input()`, unless the first name is a local variable."""
    if chain.split(".", 1)[0] in env:
        return False
    return any(chain == source or chain.startswith(source + ".") for source in SOURCE_CHAINS)


def removes_quote(old: Val, new: Val) -> bool:
    """`s.replace("'", "&apos;")`: the value can no longer close a quoted literal."""
    return (old.known and new.known and isinstance(old.const, str) and isinstance(new.const, str)
            and old.const in ("'", '"') and old.const not in new.const)


def container_method(var: str, method: str, receiver: Val, args: list[Val], env: Env) -> Val | None:
    """List, dict and config-parser methods on a variable holding a known container."""
    if receiver.items is not None:
        items = list(receiver.items)
        if method == "append" and len(args) == 1:
            env[var] = sequence([*items, args[0]])
            return CLEAN
        if method == "extend" and len(args) == 1 and args[0].items is not None:
            env[var] = sequence(items + list(args[0].items))
            return CLEAN
        if method == "insert" and len(args) == 2 and args[0].known and isinstance(args[0].const, int):
            items.insert(args[0].const, args[1])
            env[var] = sequence(items)
            return CLEAN
        if method == "pop" and items:
            index = args[0].const if args and args[0].known else (-1 if not args else None)
            if isinstance(index, int) and -len(items) <= index < len(items):
                popped = items.pop(index)
                env[var] = sequence(items)
                return popped
            env[var] = carried((receiver,))
            return carried((receiver,))
        if method in ("append", "extend", "insert", "remove", "sort", "reverse", "clear"):
            env[var] = carried((receiver, *args))
            return CLEAN
        return None
    if receiver.entries is not None:
        entries = dict(receiver.entries)
        if method == "get" and len(args) >= 2 and args[0].known and args[1].known:
            section_key = (args[0].const, args[1].const)
            if hashable(section_key) and section_key in entries:  # config.get(section, option)
                return entries[section_key]
        if method == "get" and args and args[0].known and hashable(args[0].const):
            default = args[1] if len(args) > 1 else constant(None)
            return entries.get(args[0].const, default)
        if method == "add_section":
            return CLEAN
        if method == "set" and len(args) == 3 and args[0].known and args[1].known:
            entries[(args[0].const, args[1].const)] = args[2]
            env[var] = mapping(entries.items())
            return CLEAN
        if method in ("setdefault", "update", "set", "__setitem__"):
            env[var] = carried((receiver, *args))
            return CLEAN
        return None
    return None


def sink_of(node: ast.Call, name: str, last: str, receiver: Val, args: list[Val], kwargs: dict[str | None, Val],
            external_entities: bool) -> tuple[str | None, int]:
    """The kind of sink the call `name` is (None: no sink), and the taint reaching it that it must not receive."""
    kind = None
    sink = SINK_FUNCTIONS.get(name) or SINK_FUNCTIONS.get(".".join(name.split(".")[-2:]))
    if sink is None and last in BARE_SINKS:
        sink = SINK_FUNCTIONS.get(last)
    if sink is None and isinstance(node.func, ast.Attribute):
        sink = SINK_METHODS.get(last)
        if sink and sink[0] == "ldap" and name.split(".")[0] in NOT_LDAP:
            sink = None
    if sink is None and last == "load" and name.startswith("yaml."):
        loader = kwargs.get("Loader")
        loader_node = next((k.value for k in node.keywords if k.arg == "Loader"), None)
        safe = loader_node is not None and dotted(loader_node).endswith(SAFE_LOADERS)
        sink = None if safe or loader is None and len(args) > 1 else ("deserialization", (0,), ())
    if (sink is None and external_entities and last in XML_CALLS
            and any(m in name.split(".") for m in XML_MODULES)):
        sink = ("xml", (0,), ("source",))
    if sink is None and last == "select" and name.startswith("elementpath"):
        sink = ("xpath", (1,), ("path",))
    bits = 0
    if sink is not None:
        kind, positions, keywords = sink
        chosen = args if positions is None else [args[i] for i in positions if i < len(args)]
        bits = reaching([*chosen, *(v for k, v in kwargs.items() if k in keywords)], kind)
    elif last in PATH_METHODS and isinstance(node.func, ast.Attribute) and not receiver.known:
        kind, bits = "path", reaching((receiver,), "path")
    return kind, bits
