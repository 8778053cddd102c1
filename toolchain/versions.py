"""Version strings as they appear in the wild, parsed and compared once.

Inputs come from version.txt ("v7。", "8.6.1.6"), tool banners ("release 12.9,
V12.9.86"), tags ("3.0.0-rc1", "v2.6.2") and settings (None, ""). Everything here
is lenient: what cannot be read as a version is None (or sorts lowest), never an
exception; callers decide whether that is an error.

    parse("3.0.0-rc1")              -> Version("3.0.0rc1")
    number_in("v7。")               -> "7"           (the dotted number as written)
    sort_key(None) < sort_key("1")                   (None and junk sort lowest)
    prefix_match("3.0", "3.0.2")    -> True          (dotted parts, as strings)
    in_range("12.4", ">=11.8,<13")  -> True          (pre-releases count as their release)
    major_minor("3.0.0-beta1")      -> "3.0"     major("8.2.1") -> "8"
"""

from __future__ import annotations

import re

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

# A dotted number and, glued to it, a PEP 440-ish pre/post-release tail.
_NUMBER = re.compile(r"(\d+(?:\.\d+)*)((?:[-_.]?(?:rc|alpha|beta|a|b|c|dev|post|pre)\.?\d+)?)",
                     re.I)
_LOWEST = (0, Version("0"))


def number_in(text: str | None) -> str | None:
    """The first dotted number in `text` as written ("v8.6." -> "8.6"), else None."""
    m = _NUMBER.search(str(text)) if text else None
    return m.group(1) if m else None


def parse(text: str | None) -> Version | None:
    """`text` as a Version: the whole string if it is one, else the first version in it."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        pass
    m = _NUMBER.search(text)
    if not m:
        return None
    try:
        return Version(m.group(0))
    except InvalidVersion:
        return Version(m.group(1))


def release(text: str | None) -> Version | None:
    """The plain release of `text` (3.0.0-beta1 -> 3.0.0), for range checks."""
    v = parse(text)
    return Version(v.base_version) if v is not None else None


def sort_key(text: str | None) -> tuple[int, Version]:
    """A key that orders versions; None, "" and unreadable strings sort lowest."""
    v = parse(text)
    return (1, v) if v is not None else _LOWEST


def is_prerelease(text: str | None) -> bool:
    v = parse(text)
    return v is not None and v.is_prerelease


def _parts(text: str) -> list[str]:
    return str(text).strip().lstrip("vV").split(".")


def prefix_match(wanted: str | None, actual: str | None) -> bool:
    """True when `wanted`'s dotted parts begin `actual`'s: "7.2" matches "7.2.3.4", "1" does
    not match "10.2", "2.0.0" does not match "2.0.0-rc1". No `wanted` matches anything."""
    if wanted in (None, ""):
        return True
    if actual in (None, ""):
        return False
    w, a = _parts(wanted), _parts(actual)
    return len(w) <= len(a) and a[: len(w)] == w


def at_most(limit: str | None, actual: str | None) -> bool:
    """actual <= limit; no limit allows anything, an unknown actual passes no limit."""
    if limit in (None, ""):
        return True
    if actual in (None, ""):
        return False
    return sort_key(actual) <= sort_key(limit)


def in_range(text: str | None, spec: str) -> bool:
    """True when `text`'s release is inside `spec` (">=11.8,<13"; "" = any readable version).

    An unreadable version is in no range. A malformed `spec` is a bug in the data it
    came from, so it raises (packaging's InvalidSpecifier)."""
    v = release(text)
    if v is None:
        return False
    return not spec or v in SpecifierSet(spec)


def major(text: str | None) -> str | None:
    """"8.2.1" -> "8", "v10.5.0.18" -> "10"; None if unreadable."""
    v = release(text)
    return str(v.major) if v is not None else None


def major_minor(text: str | None) -> str | None:
    """"12.9.86" -> "12.9", "3.0.0-beta1" -> "3.0", "12" -> "12"; None if unreadable."""
    v = release(text)
    return ".".join(str(p) for p in v.release[:2]) if v is not None else None
