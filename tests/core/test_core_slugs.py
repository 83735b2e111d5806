"""Slugs, names, template keys, Render names and plugin repo URLs (DESIGN §8 "Slugs")."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcp.core.slugs import (
    RENDER_NAME_MAX_LENGTH,
    derive_slug,
    render_name,
    render_name_splits,
    validate_name,
    validate_slug,
    validate_template_key,
    validate_url,
)
from rcp.errors import UsageError

VALID_SLUG = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Café Ünïcode Ltd", "cafe-unicode-ltd"),
        ("Acme Corporation", "acme-corporation"),
        ("  Acme -- Corp!!  ", "acme-corp"),
        ("ACME_corp.io", "acme-corp-io"),
        ("ﬁnance ＧＲＯＵＰ", "finance-group"),  # NFKD folds ligatures and full-width letters
        ("a" * 39 + " b", "a" * 39),  # cut at 40 leaves a trailing hyphen, which is stripped
        ("x" * 60, "x" * 40),
    ],
)
def test_derive_slug_examples(name: str, slug: str) -> None:
    assert derive_slug(name) == slug


@pytest.mark.parametrize("name", ["東京", "123 Numbers Inc", "---", "", "9lives"])
def test_derive_slug_asks_for_slug_when_nothing_usable(name: str) -> None:
    with pytest.raises(UsageError, match="pass --slug") as raised:
        derive_slug(name)
    assert raised.value.exit_code == 2


@given(st.text(max_size=120))
def test_derived_slug_is_always_valid_or_refused(name: str) -> None:
    try:
        slug = derive_slug(name)
    except UsageError:
        return
    assert validate_slug(slug) == slug
    assert VALID_SLUG.fullmatch(slug)


@pytest.mark.parametrize("slug", ["a", "acme", "acme-corp", "a1-b2-c3", "x" * 40])
def test_valid_slugs(slug: str) -> None:
    assert validate_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "Acme",
        "1acme",
        "-acme",
        "acme-",
        "acme--corp",
        "acme_corp",
        "acme corp",
        "x" * 41,
        "café",
    ],
)
def test_invalid_slugs(slug: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate_slug(slug)
    assert raised.value.message == (
        f"invalid slug {slug!r}: use 1-40 characters of a-z, 0-9 and single hyphens, "
        "starting with a letter, not ending with a hyphen"
    )


def test_template_keys() -> None:
    assert validate_template_key("web") == "web"
    assert validate_template_key("b-web2") == "b-web2"
    assert validate_template_key("k" * 20) == "k" * 20
    for bad in ["", "Web", "2web", "web-", "w--b", "k" * 21, "{{ tenant.slug }}"]:
        with pytest.raises(UsageError, match=r"^invalid key .*: use 1-20 characters"):
            validate_template_key(bad)


@pytest.mark.parametrize(
    "name", ["A", "Acme Corporation", " leading space", "Ünïcode ☃", "x" * 255]
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "invalid name: use 1-255 characters (got 0)"),
        ("x" * 256, "invalid name: use 1-255 characters (got 256)"),
        ("   ", "invalid name: it must contain at least one character that is not a space"),
        (
            "Acme\nCorp",
            "invalid name 'Acme\\nCorp': control characters (tabs, newlines, …) are not allowed",
        ),
        (
            "Acme\tCorp",
            "invalid name 'Acme\\tCorp': control characters (tabs, newlines, …) are not allowed",
        ),
    ],
)
def test_invalid_names(name: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate_name(name)
    assert raised.value.message == message


def test_render_name_is_slug_dash_key() -> None:
    assert render_name("acme-corp", "web") == "acme-corp-web"


slugs_strategy = st.from_regex(r"[a-z][a-z0-9]{0,7}(?:-[a-z0-9]{1,7}){0,5}", fullmatch=True).filter(
    lambda s: len(s) <= 40
)
keys_strategy = st.from_regex(r"[a-z][a-z0-9]{0,5}(?:-[a-z0-9]{1,5}){0,3}", fullmatch=True).filter(
    lambda s: len(s) <= 20
)


@given(slugs_strategy, keys_strategy)
def test_render_name_is_deterministic_valid_and_within_limits(slug: str, key: str) -> None:
    validate_slug(slug)
    validate_template_key(key)
    name = render_name(slug, key)
    assert name == render_name(slug, key)
    assert len(name) <= RENDER_NAME_MAX_LENGTH == 61
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", name)
    # The pair is always recoverable among the name's possible splits.
    assert (slug, key) in render_name_splits(name)


@given(slugs_strategy, keys_strategy, keys_strategy)
def test_render_name_is_injective_within_one_tenant(slug: str, key_a: str, key_b: str) -> None:
    if key_a != key_b:
        assert render_name(slug, key_a) != render_name(slug, key_b)


def test_render_name_splits_show_cross_tenant_ambiguity() -> None:
    assert render_name("acme", "b-web") == render_name("acme-b", "web")
    assert render_name_splits("acme-b-web") == [("acme", "b-web"), ("acme-b", "web")]
    assert render_name_splits("acme-web") == [("acme", "web")]
    assert render_name_splits("web") == []


@pytest.mark.parametrize(
    "url",
    ["https://github.com/acme/plugin", "http://git.example.com:8080/a/b.git", "https://h"],
)
def test_valid_urls(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "github.com/acme/plugin",
            "invalid --plugin-repo 'github.com/acme/plugin': use an http:// or https:// URL",
        ),
        (
            "ftp://example.com/x",
            "invalid --plugin-repo 'ftp://example.com/x': use an http:// or https:// URL",
        ),
        ("https://", "invalid --plugin-repo 'https://': the URL has no host"),
        (
            "https://exa mple.com",
            "invalid --plugin-repo 'https://exa mple.com': it must not be empty or contain spaces",
        ),
        ("", "invalid --plugin-repo '': it must not be empty or contain spaces"),
        (
            "https://host:99999/x",
            "invalid --plugin-repo 'https://host:99999/x': it is not a valid URL",
        ),
    ],
)
def test_invalid_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate_url(url)
    assert raised.value.message == message
    assert raised.value.exit_code == 2


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(UsageError) as raised:
        validate_url("https://x-token:ghp_secret123@github.com/acme/plugin")
    assert "ghp_secret123" not in raised.value.message
    assert "credentials in the URL are not allowed" in raised.value.message
