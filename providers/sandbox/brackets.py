"""PHP bracket keys (``data[type]=3``, ``recipients[]=…``, ``recipients[0][name]=…``) to nested
Python values, the way PHP's ``$_POST`` builds them: a level whose keys are all indices
becomes a list."""

from __future__ import annotations

import re
from collections.abc import Iterable

KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
PART = re.compile(r"\[([^\[\]]*)\]")


def parse_brackets(pairs: Iterable[tuple[str, str]]) -> dict:
    root: dict = {}
    for key, value in pairs:
        match = KEY.match(key)
        if match is None:
            continue
        parts = [match[1], *PART.findall(match[2])]
        node = root
        for part in parts[:-1]:
            child = node.get(part or str(len(node)))
            if not isinstance(child, dict):
                child = node[part or str(len(node))] = {}
            node = child
        node[parts[-1] or str(len(node))] = value
    return {key: _listify(value) for key, value in root.items()}


def _listify(node):
    if not isinstance(node, dict):
        return node
    node = {key: _listify(value) for key, value in node.items()}
    if node and all(key.isdigit() for key in node):
        return [node[key] for key in sorted(node, key=int)]
    return node
