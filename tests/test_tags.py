"""Which tags can be stored, and the errors for those that cannot."""

import math
from datetime import date
from decimal import Decimal

import pytest

from job_status.tags import InvalidTag, normalize_tags, store_value


def test_mapping_and_labels_are_normalized():
    assert normalize_tags({"election": 5, "format": "csv", "final": False, "nightly": None}) == {
        "election": 5,
        "format": "csv",
        "final": False,
        "nightly": None,
    }
    assert normalize_tags(["nightly", "urgent"]) == {"nightly": None, "urgent": None}
    assert normalize_tags(None) == {}


def test_values_are_split_into_typed_columns():
    assert store_value("n", 5).number_value == 5.0
    assert store_value("n", 2.5).value == 2.5
    assert store_value("b", True).value_type == "boolean"
    assert store_value("b", True).value is True
    assert store_value("s", "5").value == "5"
    assert store_value("l", None).value_type == "label"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (object(), "type object"),
        (date(2026, 1, 1), "type date"),
        (Decimal("1.5"), "type Decimal"),
        ([1, 2], "type list"),
        ({"a": 1}, "type dict"),
        (b"bytes", "type bytes"),
        (math.nan, "JSON cannot store"),
        (math.inf, "JSON cannot store"),
        (2**60, "too large"),
        ("x" * 256, "longer than 255"),
    ],
)
def test_unstorable_values_are_refused_naming_the_tag(value, problem):
    with pytest.raises(InvalidTag, match=problem) as caught:
        normalize_tags({"my_tag": value})
    assert "my_tag" in str(caught.value)


@pytest.mark.parametrize(
    "tags",
    ["nightly", {"": 1}, {3: 1}, {"k" * 101: 1}, 42],
    ids=["str", "empty", "int", "long", "int-tags"],
)
def test_bad_keys_and_shapes_are_refused(tags):
    with pytest.raises(InvalidTag):
        normalize_tags(tags)


def test_invalid_tag_is_a_value_error():
    assert issubclass(InvalidTag, ValueError)
