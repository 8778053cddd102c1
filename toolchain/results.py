"""Base for the one result type each step returns: a dataclass with to_json()."""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import PurePath
from typing import Any


def jsonable(value: Any) -> Any:
    """Turn dataclasses, paths, enums, sets and tuples into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


class JsonResult:
    """Mixin for result dataclasses: `to_dict()` and `to_json()`."""

    def to_dict(self) -> dict:
        return jsonable(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)
