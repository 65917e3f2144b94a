"""Likely secrets in the code a review would send to a model server, and their redaction.

Only matters when the backend is a server on another machine (`openai` with a base URL
that is not loopback): then, before anything is sent, `guard` scans every line the model
would be shown with detect-secrets' plugins (in-process, no network) and applies the
`secrets` setting: warn (default) | redact | block | ignore. A secret's value is never
printed: warnings name the kind and the place only, and `SecretHit`'s repr masks it.

detect-secrets (and `requests`, which it imports: about 0.3 s) is imported only when a
scan runs, so the local default path does not pay for it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from reviewer.errors import ReviewerError
from reviewer.types import Finding, Hunk, ParsedDiff, Review

if TYPE_CHECKING:
    from reviewer.config import Config

# detect-secrets' default plugin list minus these three. The two entropy plugins flag any
# random-looking string: on this repository's own source (16.5k lines) their only hits were
# sha256 digests, finding fingerprints and a model repository name, while every credential
# format in tests/test_secrets.py is caught by a format-specific plugin or the keyword
# plugin. A public IP address is not a credential.
EXCLUDED_PLUGINS = frozenset({"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"})
# Generic detectors: when a format-specific plugin flags the same value, its kind is the one shown.
_GENERIC_KINDS = frozenset({"Secret Keyword", "Basic Auth Credentials"})
# A plugin's verify() would send the candidate secret to its provider's API; never enabled here.
_VERIFICATION_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"


class SecretHit(NamedTuple):
    """A likely secret in a line the model would see.

    `line` is the new-file line number, None for a removed line. `secret` is the matched
    value (needed to redact it); it is never printed, and the repr masks it.
    """

    path: str
    line: int | None
    kind: str
    secret: str

    def __repr__(self) -> str:
        return f"SecretHit(path={self.path!r}, line={self.line!r}, kind={self.kind!r}, secret='***')"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else f"{self.path} (a removed line)"


# --------------------------------------------------------------------------- where the code goes


def remote_host(config: Config) -> str | None:
    """The host the code is sent to when it leaves this machine, else None.

    Only the `openai` backend sends code anywhere; a base URL on localhost, 127.0.0.0/8
    or ::1 stays on the machine. Host names are not resolved (a name that happens to
    point at 127.0.0.1 counts as remote: the safe side).
    """
    if config.backend != "openai" or not config.base_url:
        return None
    try:
        host = urlsplit(config.base_url.strip()).hostname
    except ValueError:
        return None  # not a URL: the backend refuses it before anything is sent
    if not host:
        return None
    return None if is_loopback(host) else host


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8, ::1 (also as an IPv4-mapped IPv6 address)."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


# --------------------------------------------------------------------------- scanning


def _lines_shown(hunk: Hunk) -> Iterator[tuple[int | None, str]]:
    """(new-file line or None, text) for every line the prompt shows for this hunk."""
    yield from hunk.context_before
    for ln in hunk.lines:
        yield (None if ln.kind == "-" else ln.new_no), ln.text
    yield from hunk.context_after


def find_secrets(parsed: ParsedDiff) -> list[SecretHit]:
    """Likely secrets in the added, removed and context lines of every hunk (and the
    extra context read from the file), one hit per (path, line, value)."""
    by_path: dict[str, list[tuple[int | None, str]]] = {}
    for hunk in parsed.hunks:
        by_path.setdefault(hunk.path, []).extend(_lines_shown(hunk))
    if not by_path:
        return []

    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import get_plugins, transient_settings

    found: dict[tuple[str, int | None, str], str] = {}
    plugins = [{"name": cls.__name__} for cls in get_mapping_from_secret_type_to_class().values()
               if cls.__name__ not in EXCLUDED_PLUGINS]
    with transient_settings({"plugins_used": plugins}) as settings:
        settings.disable_filters(_VERIFICATION_FILTER)
        active = get_plugins()
        for path, rows in by_path.items():
            for line, kind, value in _scan_rows(path, rows, active):
                key = (path, line, value)
                if key not in found or found[key] in _GENERIC_KINDS:
                    found[key] = kind
    # Drop a value that is part of a longer one found on the same line (one warning, one mask).
    return [SecretHit(path, line, kind, value) for (path, line, value), kind in found.items()
            if not any(v != value and value in v for (p, n, v) in found if (p, n) == (path, line))]


def _scan_rows(path: str, rows: list[tuple[int | None, str]], plugins: list[Any]) -> Iterator[tuple[int | None, str, str]]:
    """detect-secrets' per-line scan (as in its scan_file) on lines that are not a file on disk.

    Its filters (allowlist pragmas, templated values, ${VAR} references, ...) apply;
    the file-level ones do not (the path need not exist here). The filename is the
    diff's path, so the keyword plugin picks its rules by file type (quotes required
    in code, not in YAML/INI/TOML).
    """
    from detect_secrets.util.code_snippet import get_code_snippet

    prepared = [(plugin, _own_regexes(plugin)) for plugin in plugins]
    texts = [text.rstrip() for _, text in rows]
    for index, (line, text) in enumerate(zip((r[0] for r in rows), texts), start=1):
        context = get_code_snippet(lines=texts, line_number=index)
        if _filtered(["line"], filename=path, line=text, context=context):
            continue
        for plugin, regexes in prepared:
            for value in _values(plugin, regexes, path, text, index, context):
                if _filtered(["secret"], filename=path, secret=value, plugin=plugin, line=text):
                    continue
                if _filtered(["context"], filename=path, secret=value, plugin=plugin, line=text, context=context):
                    continue
                yield line, plugin.secret_type, _extend_right(text, value)


# Characters that continue a token (base64, base64url, JWT segments).
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-.+/=~]*")


def _extend_right(text: str, value: str) -> str:
    """`value` grown over the token characters that follow it in `text`: a few plugins'
    patterns stop early (a JWT's signature, the tail of an OpenAI key), and what is not
    masked would still be sent."""
    at = text.find(value)
    if at < 0:
        return value
    tail = _TOKEN_TAIL.match(text, at + len(value))
    return value + tail.group(0) if tail else value


# A regex match that is one token (no space, quote, =, :, ...) is the secret itself.
_TOKEN = re.compile(r"[^\s'\"`=:,;()\[\]{}<>]+")


def _own_regexes(plugin: Any) -> list[re.Pattern[str]] | None:
    """A regex plugin's patterns when `_values` should run them itself (see there), else None."""
    from detect_secrets.plugins.base import RegexBasedDetector

    if isinstance(plugin, RegexBasedDetector) and "analyze_string" not in type(plugin).__dict__:
        return list(plugin.denylist)
    return None


def _values(plugin: Any, regexes: list[re.Pattern[str]] | None, path: str, text: str, index: int,
            context: Any) -> Iterator[str]:
    """The secret values a plugin finds in one line: the exact strings to mask.

    Regex plugins report `findall()` results, which for a pattern with a group is the
    group: for GitHub and GitLab tokens that is only the prefix ("ghp", "glpat"), and
    masking it would leave the token in the prompt. So a match that is a single token is
    taken whole; a match with a keyword around the value (`aws_secret = "..."`,
    the password in a URL) gives its groups, as detect-secrets reports them.
    """
    if regexes is None:
        for potential in plugin.analyze_line(filename=path, line=text, line_number=index, context=context):
            if potential.secret_value:
                yield potential.secret_value
        return
    for regex in regexes:
        for match in regex.finditer(text):
            whole = match.group(0)
            if not regex.groups or _TOKEN.fullmatch(whole):
                yield whole
            else:
                yield from (g for g in match.groups() if g)


def _filtered(required: list[str], **kwargs: object) -> bool:
    """detect-secrets' filter step: True when a configured filter discards the candidate."""
    from detect_secrets.core.scan import get_filters_with_parameter
    from detect_secrets.util.inject import call_function_with_arguments

    for filter_fn in get_filters_with_parameter(*required):
        try:
            if call_function_with_arguments(filter_fn, **kwargs):
                return True
        except TypeError:  # a filter wanting arguments this step does not have (detect-secrets skips them too)
            continue
    return False


# --------------------------------------------------------------------------- redaction


def placeholder(kind: str) -> str:
    return f"<redacted:{kind}>"


# detect-secrets flags a private key by its BEGIN line only; the key itself is the lines
# after it, so redaction masks everything from BEGIN to END (also within one line, as in
# a string with \n escapes). Matches PEM/OpenSSH/PGP/SSH2 armour; a PuTTY key file has no
# END line and only its header is masked.
_KEY_BEGIN = re.compile(r"-{4,} ?BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)? ?-{4,}")
_KEY_END = re.compile(r"-{4,} ?END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)? ?-{4,}")
_KEY_KIND = "Private Key"


def _mask_key_blocks(texts: list[str], inside: bool) -> tuple[list[str], bool]:
    """`texts` with private-key armour blocks masked; `inside` carries an open block over
    from the lines before (a hunk split in parts). Returns the lines and the final state."""
    out: list[str] = []
    mask = placeholder(_KEY_KIND)
    for text in texts:
        pieces: list[str] = []
        rest = text
        while rest:
            if inside:
                end = _KEY_END.search(rest)
                if end is None:
                    pieces.append(mask)
                    rest = ""
                    break
                pieces.append(mask)
                rest = rest[end.end():]
                inside = False
            else:
                begin = _KEY_BEGIN.search(rest)
                if begin is None:
                    pieces.append(rest)
                    break
                pieces.append(rest[:begin.start()])
                rest = rest[begin.end():]
                inside = True
                if not rest:
                    pieces.append(mask)
        out.append("".join(pieces))
    return out, inside


def redact(parsed: ParsedDiff, hits: list[SecretHit]) -> ParsedDiff:
    """`parsed` with every occurrence of every hit's value replaced by `<redacted:KIND>`
    (and private-key blocks masked whole).

    Everywhere, not only on the line it was found on: the same key pasted elsewhere
    without a telltale name must not slip through. Line numbers and line counts do not
    change. The full-file sources (what the analyzers read; their messages are shown to
    the model and reported) are redacted too.
    """
    if not hits:
        return parsed
    kinds: dict[str, str] = {}
    for hit in hits:
        kinds.setdefault(hit.secret, hit.kind)
    ordered = sorted(kinds.items(), key=lambda kv: -len(kv[0]))  # a value inside a longer one goes second

    def clean(text: str) -> str:
        for value, kind in ordered:
            if value in text:
                text = text.replace(value, placeholder(kind))
        return text

    def clean_all(texts: list[str], inside: bool) -> tuple[list[str], bool]:
        masked, inside = _mask_key_blocks(texts, inside)
        return [clean(t) for t in masked], inside

    hunks: list[Hunk] = []
    open_block: dict[str, bool] = {}  # per path, in hunk order
    for hunk in parsed.hunks:
        texts = [t for _, t in hunk.context_before] + [ln.text for ln in hunk.lines] + [t for _, t in hunk.context_after]
        texts, open_block[hunk.path] = clean_all(texts, open_block.get(hunk.path, False))
        nb, nl = len(hunk.context_before), len(hunk.lines)
        hunks.append(dataclasses.replace(
            hunk,
            section=clean(hunk.section),
            context_before=tuple((no, t) for (no, _), t in zip(hunk.context_before, texts[:nb])),
            lines=tuple(dataclasses.replace(ln, text=t) for ln, t in zip(hunk.lines, texts[nb:nb + nl])),
            context_after=tuple((no, t) for (no, _), t in zip(hunk.context_after, texts[nb + nl:])),
        ))
    sources = {path: tuple(clean_all(list(lines), False)[0]) for path, lines in parsed.sources.items()}
    return dataclasses.replace(parsed, hunks=tuple(hunks), sources=sources)


def drop_placeholder_suggestions(review: Review) -> Review:
    """Findings keep their text, but a suggested replacement that contains a redaction
    placeholder is dropped: applying it would write `<redacted:...>` into the code."""
    def fix(finding: Finding) -> Finding:
        if finding.suggestion and "<redacted:" in finding.suggestion:
            return dataclasses.replace(finding, suggestion=None)
        return finding

    return dataclasses.replace(review, findings=tuple(fix(f) for f in review.findings))


# --------------------------------------------------------------------------- the policy


def guard(parsed: ParsedDiff, config: Config, warn: Callable[[str], None]) -> tuple[ParsedDiff, bool]:
    """Apply the `secrets` policy before code is sent off the machine.

    Returns the diff to review (redacted under `redact`) and whether anything was
    redacted. Under `block` a hit is a ReviewerError. Nothing happens for local models.
    """
    host = remote_host(config)
    policy = config.secrets
    if host is None or policy == "ignore":
        return parsed, False
    hits = find_secrets(parsed)
    if not hits:
        return parsed, False
    if policy == "block":
        first = hits[0]
        more = f" and {len(hits) - 1} more" if len(hits) > 1 else ""
        raise ReviewerError(
            f"possible secret ({first.kind}) at {first.where}{more} would be sent to {host} (--secrets block); "
            "remove it, use --secrets redact to mask it, or review with a local model"
        )
    if policy == "redact":
        noun = "secret" if len(hits) == 1 else "secrets"
        warn(f"reviewer: masked {len(hits)} possible {noun} before sending the code to {host} (--secrets redact)")
        return redact(parsed, hits), True
    for hit in hits:
        warn(f"reviewer: warning: possible secret ({hit.kind}) at {hit.where} will be sent to {host}; "
             "use --secrets redact to mask it")
    return parsed, False


__all__ = ["SecretHit", "drop_placeholder_suggestions", "find_secrets", "guard", "is_loopback",
           "redact", "remote_host"]


def guard_without_redaction(parsed: ParsedDiff, config: Config, command: str, warn: Callable[[str], None]) -> None:
    """`guard` for commands that cannot review a redacted diff (`reviewer tui` applies
    suggestions to the real files; `reviewer tests` sends whole functions read from the
    tree): warn and block work as usual, redact is refused rather than ignored."""
    if config.secrets == "redact" and remote_host(config) is not None:
        raise ReviewerError(f"--secrets redact is not supported by `reviewer {command}`; "
                            "use `reviewer review`, or --secrets block or warn")
    guard(parsed, config, warn)

