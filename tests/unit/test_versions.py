"""toolchain.versions on the odd strings the lab meets (version.txt, nvcc, tags, settings)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from toolchain import versions as v


@pytest.mark.parametrize("text, expected", [
    ("3.0.0-rc1", "3.0.0rc1"), ("3.0.0rc0", "3.0.0rc0"), ("v2.6.2", "2.6.2"),
    ("12.9", "12.9"), ("8.6.1.6", "8.6.1.6"), ("  11.8\n", "11.8"), ("v7。", "7"),
    ("Cuda compilation tools, release 12.9, V12.9.86", "12.9"),
    ("g++ (GCC) 15.3.0", "15.3.0"), ("Paddle 3.0.0-beta1 (CPU)", "3.0.0b1"),
])
def test_parse_reads_versions_as_they_appear(text, expected):
    assert v.parse(text) == Version(expected)


@pytest.mark.parametrize("text", [None, "", "   ", "develop", "unknown", "False"])
def test_parse_unreadable_is_none(text):
    assert v.parse(text) is None
    assert v.release(text) is None and v.major_minor(text) is None


def test_number_in_keeps_the_digits_as_written():
    assert v.number_in("v8.6") == "8.6" and v.number_in("v7。") == "7"
    assert v.number_in("19.29.30154.0") == "19.29.30154.0"
    assert v.number_in("3.0.0-rc1") == "3.0.0"
    assert v.number_in("") is None and v.number_in(None) is None and v.number_in("OFF") is None


def test_sort_key_orders_and_puts_unknown_lowest():
    given = ["3.0.0", None, "2.6.2", "3.0.0-rc1", "", "junk", "10.0", "2.10.0", "3.0.0-beta1"]
    ordered = sorted(given, key=v.sort_key)
    assert ordered[3:] == ["2.6.2", "2.10.0", "3.0.0-beta1", "3.0.0-rc1", "3.0.0", "10.0"]
    assert set(ordered[:3]) == {None, "", "junk"}
    assert v.sort_key("8.6.1.6") > v.sort_key("8.6.1")
    assert v.sort_key("11.8") == v.sort_key("11.8.0")


def test_prerelease():
    assert v.is_prerelease("3.0.0-rc1") and v.is_prerelease("3.0.0-beta1")
    assert not v.is_prerelease("3.0.0") and not v.is_prerelease(None)
    assert not v.is_prerelease("junk")


def test_prefix_match_compares_dotted_parts():
    assert v.prefix_match("3.0", "3.0.2") and v.prefix_match("7", "7.2.3.4")
    assert v.prefix_match("7.2", "7.2.3.4") and v.prefix_match("v3.0", "3.0.0")
    assert not v.prefix_match("7.2.3.4", "7") and not v.prefix_match("1", "10.2")
    assert not v.prefix_match("2.0.0", "2.0.0-rc1") and not v.prefix_match("3.0", "3.01")
    assert v.prefix_match(None, "1.0") and v.prefix_match("", None)
    assert not v.prefix_match("1", None) and not v.prefix_match("1", "")


def test_at_most():
    assert v.at_most("12.0", "11.8") and v.at_most("12.0", "12.0")
    assert not v.at_most("11.4", "11.8") and v.at_most("10.2", "10.2.89") is False
    assert v.at_most(None, "99") and v.at_most("", None)
    assert not v.at_most("12", None)


def test_in_range():
    assert v.in_range("12.4", ">=11.8,<13") and not v.in_range("13.0", ">=11.8,<13")
    assert not v.in_range("11.7", ">=11.8,<13")
    # a pre-release counts as its release: 3.0.0-rc1 is in >=3.0
    assert v.in_range("3.0.0-rc1", ">=3.0") and v.in_range("10.11.0.33", ">=10.11")
    assert v.in_range("8.6.1.6", "") and not v.in_range(None, "") and not v.in_range("x", ">=1")
    with pytest.raises(Exception):
        v.in_range("1.0", "about 1")


def test_major_minor():
    assert v.major_minor("12.9.86") == "12.9" and v.major_minor("3.0.0-beta1") == "3.0"
    assert v.major_minor("12") == "12" and v.major_minor("v2.6.2") == "2.6"
    assert v.major_minor("release 11.8, V11.8.89") == "11.8"


def test_major():
    assert v.major("8.2.1") == "8" and v.major("v10.5.0.18") == "10" and v.major("7") == "7"
    assert v.major(None) is None and v.major("n/a") is None
