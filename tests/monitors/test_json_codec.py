"""The JSON codec of results and upstream bodies writes and reads what the standard library did."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from healthmon.monitors import json_codec


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, None, True], "c": {"d": "é"}},
        {"when": datetime(2026, 12, 1, 12, 0, tzinfo=UTC)},
        {"point": Point(1)},
        {1: "int key", None: "none key", 2.5: "float key"},
        {"big": 2**70, "neg": -(2**65)},
        {"set": {3}},
    ],
)
def test_encodes_as_json_dumps_with_default_str(value: object) -> None:
    assert json.loads(json_codec.dumps(value)) == json.loads(json.dumps(value, default=str))
    assert json_codec.dumps_bytes(value).decode() == json_codec.dumps(value)


def test_non_finite_floats_become_null() -> None:
    assert json.loads(json_codec.dumps({"x": math.nan, "y": math.inf})) == {"x": None, "y": None}


def test_reads_what_json_loads_reads() -> None:
    assert json_codec.loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    # past 64 bits an integer is read as a float: a metric either way
    assert json_codec.loads('{"b": 123456789012345678901234567890}') == {"b": 1.2345678901234568e29}
    assert math.isnan(json_codec.loads(b'{"c": NaN}')["c"])


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""])
def test_what_is_not_json_is_a_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        json_codec.loads(raw)
