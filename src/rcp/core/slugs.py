"""Tenant slugs, tenant names, template keys, Render names and URLs (docs/commands.md, "Conventions").

Stdlib only. Every check raises ``rcp.errors.UsageError`` (exit 2) with a one-line message, so a
bad value is rejected before any database write or Render call.

Render names are ``<slug>-<key>``. Within one tenant the slug is fixed, so names are injective
per tenant. Across tenants they are not: tenant ``acme`` with key ``b-web`` and tenant
``acme-b`` with key ``web`` both give ``acme-b-web``, because slugs and keys share the hyphen.
The contract (docs/templates.md, docs/commands.md) fixes the single-hyphen form, so instead of changing the separator
``render_name_splits`` lists every (slug, key) pair that spells a given name; the engine can use
it to refuse a tenant whose names another tenant could also produce.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from rcp.errors import UsageError

SLUG_MAX_LENGTH = 40
TEMPLATE_KEY_MAX_LENGTH = 20
NAME_MAX_LENGTH = 255
# <slug>-<key>: the longest Render name rcp ever asks for.
RENDER_NAME_MAX_LENGTH = SLUG_MAX_LENGTH + 1 + TEMPLATE_KEY_MAX_LENGTH

# One or more lowercase alphanumeric runs joined by single hyphens, starting with a letter.
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_NOT_SLUG_CHARACTERS = re.compile(r"[^a-z0-9]+")

_SLUG_RULE = "1-40 characters of a-z, 0-9 and single hyphens, starting with a letter, not ending with a hyphen"
_KEY_RULE = "1-20 characters of a-z, 0-9 and single hyphens, starting with a letter, not ending with a hyphen"


def _is_identifier(text: str, max_length: int) -> bool:
    return 0 < len(text) <= max_length and _IDENTIFIER.fullmatch(text) is not None


def derive_slug(name: str) -> str:
    """The slug a tenant name yields when no ``--slug`` is given.

    Unicode NFKD, drop what is not ASCII, lowercase, every run of other characters becomes one
    hyphen, cut at 40, strip hyphens: ``"Café Ünïcode Ltd"`` → ``"cafe-unicode-ltd"``.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    hyphenated = _NOT_SLUG_CHARACTERS.sub("-", folded.lower())
    slug = hyphenated[:SLUG_MAX_LENGTH].strip("-")
    if not slug or not slug[0].isalpha():
        raise UsageError(
            f"cannot derive a slug from the name {name!r}; pass --slug",
            hint=f"a slug is {_SLUG_RULE}",
        )
    return slug


def validate_slug(slug: str) -> str:
    """Return ``slug`` unchanged when it is a valid tenant slug, else raise UsageError."""
    if not _is_identifier(slug, SLUG_MAX_LENGTH):
        raise UsageError(f"invalid slug {slug!r}: use {_SLUG_RULE}")
    return slug


def validate_template_key(key: str) -> str:
    """Return ``key`` unchanged when it is a valid per-tenant resource key (``web``, ``db``)."""
    if not _is_identifier(key, TEMPLATE_KEY_MAX_LENGTH):
        raise UsageError(f"invalid key {key!r}: use {_KEY_RULE}")
    return key


def validate_name(name: str) -> str:
    """Return ``name`` unchanged when it is a valid tenant name (1-255 printable characters,
    at least one that is not a space), else raise UsageError."""
    if not name or len(name) > NAME_MAX_LENGTH:
        raise UsageError(f"invalid name: use 1-{NAME_MAX_LENGTH} characters (got {len(name)})")
    if not name.isprintable():
        raise UsageError(
            f"invalid name {name!r}: control characters (tabs, newlines, …) are not allowed"
        )
    if not name.strip(" "):
        raise UsageError("invalid name: it must contain at least one character that is not a space")
    return name


# Render ids: a kind prefix, then lowercase letters and digits in hyphen-joined runs
# (``srv-ct6vmjtj0q5s700ckea0``, ``dpg-…-a``). The prefix says the resource family.
# Projects (prj-), environments (evm-) and env groups (evg-) are recorded too (issue 14).
RENDER_ID_PREFIXES = ("srv-", "crn-", "dpg-", "red-", "prj-", "evm-", "evg-")
_RENDER_ID = re.compile(r"(?:srv|crn|dpg|red|prj|evm|evg)-[a-z0-9]+(?:-[a-z0-9]+)*")
_EXPECTED_IDS = "expected srv-…, crn-…, dpg-…, red-…, prj-…, evm-… or evg-…"
_RENDER_ID_MAX_LENGTH = 64


def is_render_id(render_id: str) -> bool:
    """Whether ``render_id`` has the shape of a Render id of a kind rcp records."""
    return len(render_id) <= _RENDER_ID_MAX_LENGTH and _RENDER_ID.fullmatch(render_id) is not None


def validate_render_id(render_id: str, *, what: str = "Render id") -> str:
    """Return ``render_id`` unchanged when it looks like a Render id, else raise UsageError."""
    if not is_render_id(render_id):
        raise UsageError(f"invalid {what} {render_id!r}: {_EXPECTED_IDS}")
    return render_id


def render_name(slug: str, key: str) -> str:
    """The deterministic Render name of a tenant's resource: ``<slug>-<key>``."""
    return f"{slug}-{key}"


def render_name_splits(name: str) -> list[tuple[str, str]]:
    """Every (slug, key) pair of valid values whose ``render_name`` is ``name``.

    More than one pair means two tenants could claim the same Render name, e.g.
    ``"acme-b-web"`` → ``[("acme", "b-web"), ("acme-b", "web")]``.
    """
    splits: list[tuple[str, str]] = []
    for index, character in enumerate(name):
        if character != "-":
            continue
        slug, key = name[:index], name[index + 1 :]
        if _is_identifier(slug, SLUG_MAX_LENGTH) and _is_identifier(key, TEMPLATE_KEY_MAX_LENGTH):
            splits.append((slug, key))
    return splits


CREDENTIALS_IN_URL = (
    "credentials in the URL are not allowed; give Render access to the repository instead"
)


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable repository URL (http(s), a host, no credentials, no
    spaces), or None when it is. The text never repeats the URL's user part."""
    if not url or any(character.isspace() for character in url):
        return "it must not be empty or contain spaces"
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "it is not a valid URL"
    if parts.username is not None or parts.password is not None:
        # The user part is usually an access token: rcp would store and show it.
        return CREDENTIALS_IN_URL
    if parts.scheme not in ("http", "https"):
        return "use an http:// or https:// URL"
    if not hostname:
        return "the URL has no host"
    return None


def validate_url(url: str, *, option: str = "--plugin-repo") -> str:
    """Return ``url`` unchanged when it is an http(s) URL with a host, else raise UsageError."""
    problem = url_problem(url)
    if problem is None:
        return url
    if problem == CREDENTIALS_IN_URL:
        # Do not echo a URL that carries a token.
        raise UsageError(f"invalid {option}: {problem}")
    raise UsageError(f"invalid {option} {url!r}: {problem}")
