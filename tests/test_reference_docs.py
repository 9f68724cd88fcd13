"""The API reference shows what it promises: the fake's every method, the policies' defaults.

mkdocstrings lists a member only when it has a docstring (``show_if_no_docstring`` is
off), and it cannot see the ``__init__`` attrs generates: the griffe_fieldz extension
reads an attrs class's fields and their defaults instead. These checks need no docs
build; ``mkdocs build --strict`` renders what they guard.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import attrs

from swoogo_async import RateLimit, RetryPolicy
from swoogo_async.testing import FakeSwoogo, Fault

ROOT = Path(__file__).parent.parent


def _public_members(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    }


def test_every_public_method_of_the_fake_has_a_docstring_the_reference_shows() -> None:
    members = _public_members(FakeSwoogo)
    assert {"inject", "chaos", "add_session", "advance", "release_held", "stats"} <= set(members)
    undocumented = sorted(name for name, member in members.items() if not inspect.getdoc(member))
    assert undocumented == []
    page = (ROOT / "docs" / "reference" / "testing.md").read_text(encoding="utf-8")
    block = page.split("::: swoogo_async.testing.FakeSwoogo", 1)[1].split(":::", 1)[0]
    assert "inherited_members: true" in block  # the controls live on a mixin


def test_every_fault_constructor_has_a_docstring_the_reference_shows() -> None:
    constructors = {
        name
        for name, member in vars(Fault).items()
        if isinstance(member, classmethod) and not name.startswith("_")
    }
    assert {"error", "rate_limited", "timeout", "drop_before", "drop_after"} <= constructors
    assert sorted(n for n in constructors if not inspect.getdoc(getattr(Fault, n))) == []


def test_every_constructor_option_of_the_fake_is_documented() -> None:
    doc = inspect.getdoc(FakeSwoogo) or ""
    options = [p for p in inspect.signature(FakeSwoogo).parameters if p != "self"]
    assert [p for p in options if f"    {p}:" not in doc] == []


def test_the_policies_document_every_field_and_the_reference_shows_their_defaults() -> None:
    for cls in (RetryPolicy, RateLimit):
        doc = inspect.getdoc(cls) or ""
        missing = [f.name for f in attrs.fields(cls) if f"    {f.name}:" not in doc]
        assert missing == [], cls.__name__
    assert "statuses" in {f.name for f in attrs.fields(RetryPolicy)}
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "- griffe_fieldz" in config
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"griffe-fieldz' in pyproject
