"""DynamoDB capacity units from item sizes, as AWS bills them (on-demand request units).

The emulator answers `ReturnConsumedCapacity` with a constant, so the bench
computes units itself from the items before and after each write and from
each index's projection, following the DynamoDB Developer Guide:

- item size: attribute names plus values; a string is its UTF-8 bytes, a
  number about one byte per two significant digits plus one, null and boolean
  one byte, a list or map 3 bytes plus one byte per element plus the elements
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html);
- a write costs one unit per started KB of the larger of the item before and
  after it (a failed conditional write: of the item as it is, at least one);
- each global secondary index costs, on top: nothing when the item is in it
  neither before nor after, or when neither its keys nor its projected
  attributes changed; one write to put or delete an entry; two when an index
  key changed (delete + put); one when only projected attributes changed.
  Entries are the table key, the index key and the projected attributes
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes);
- a read costs one unit per started 4 KB, half for an eventually consistent
  read; a Query sums the sizes of every entry it evaluated (before any filter)
  and rounds once; BatchGetItem rounds each item; a miss still costs a unit.

Values are in DynamoDB's wire format ({"S": ...}), as the low-level client
sends and returns them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_UNIT = 1024
READ_UNIT = 4096

Item = Mapping[str, Mapping[str, Any]]


def number_size(text: str) -> int:
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0]
    significant = digits.strip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return number_size(str(inner) if not isinstance(inner, Decimal) else format(inner, "f"))
    if kind == "B":
        return len(inner)
    if kind in ("NULL", "BOOL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in inner)
    if kind == "NS":
        return sum(number_size(str(v)) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    include: tuple[str, ...] = ()

    def holds(self, item: Item | None) -> bool:
        return bool(item) and all(k in item for k in self.keys)  # type: ignore[operator]

    def entry(self, item: Item, table_keys: Iterable[str]) -> dict[str, Any]:
        if self.projection == "ALL":
            return dict(item)
        wanted = {*table_keys, *self.keys, *(self.include if self.projection == "INCLUDE" else ())}
        return {k: v for k, v in item.items() if k in wanted}


@dataclass(frozen=True)
class Schema:
    table_keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    @classmethod
    def from_description(cls, table: Mapping[str, Any]) -> Schema:
        """From DescribeTable's `Table`."""
        indexes = tuple(
            Index(
                name=g["IndexName"],
                keys=tuple(k["AttributeName"] for k in g["KeySchema"]),
                projection=g.get("Projection", {}).get("ProjectionType", "ALL"),
                include=tuple(g.get("Projection", {}).get("NonKeyAttributes", ())),
            )
            for g in table.get("GlobalSecondaryIndexes", [])
        )
        return cls(tuple(k["AttributeName"] for k in table["KeySchema"]), indexes)

    def index(self, name: str) -> Index:
        return next(i for i in self.indexes if i.name == name)


@dataclass
class WriteCost:
    table: int = 0
    indexes: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.table + sum(self.indexes.values())


def write_cost(schema: Schema, before: Item | None, after: Item | None, succeeded: bool = True) -> WriteCost:
    """Units of one item write: the table's and each index's."""
    if not succeeded:
        return WriteCost(units(item_size(before), WRITE_UNIT))
    cost = WriteCost(units(max(item_size(before), item_size(after)), WRITE_UNIT))
    for index in schema.indexes:
        spent = _index_write(schema, index, before, after)
        if spent:
            cost.indexes[index.name] = spent
    return cost


def _index_write(schema: Schema, index: Index, before: Item | None, after: Item | None) -> int:
    was, now = index.holds(before), index.holds(after)
    old = index.entry(before, schema.table_keys) if was and before else {}
    new = index.entry(after, schema.table_keys) if now and after else {}
    if not was and not now:
        return 0
    if was and not now:
        return units(item_size(old), WRITE_UNIT)
    if now and not was:
        return units(item_size(new), WRITE_UNIT)
    assert before is not None and after is not None
    if any(before[k] != after[k] for k in index.keys):
        return units(item_size(old), WRITE_UNIT) + units(item_size(new), WRITE_UNIT)
    if old != new:
        return units(max(item_size(old), item_size(new)), WRITE_UNIT)
    return 0


def read_units(sizes: Iterable[int], consistent: bool, each: bool = False) -> float:
    """Units of a read: sizes summed and rounded once (GetItem, Query), or rounded each (BatchGetItem)."""
    factor = 1.0 if consistent else 0.5
    listed = list(sizes)
    if each:
        return sum(units(s, READ_UNIT) for s in listed) * factor
    return units(sum(listed), READ_UNIT) * factor
