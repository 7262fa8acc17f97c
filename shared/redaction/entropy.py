"""Finding long random-looking strings: keys and tokens without a known prefix.

Candidates are runs of 32+ token characters (letters, digits, ``+ / _ -``).
Finding them with a regular expression means trying a character class at
every position of the text, the slowest thing a redactor does; instead the
text is mapped to a byte mask (``a`` for a token character, space for
anything else) with ``bytes.translate`` and the runs are found with
``bytes.find``, both in C at hundreds of MB/s. ``encode("ascii",
"replace")`` keeps one byte per character, so offsets in the mask are
offsets in the text.

A candidate is judged random when it mixes letters and digits, switches
between character classes often (random text switches on most characters,
words and paths rarely), carries enough Shannon entropy, and is not made only
of harmless pieces. Hex strings are never judged random on entropy alone:
40-hex git SHAs, SHA-256 digests, UUIDs and trace ids are everyday ops text,
not secrets (hex secrets are caught by their prefix or their key name).
"""

from __future__ import annotations

import itertools
import math
import re
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from shared.redaction.rules import Span

MIN_RUN = 32
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "+/_-")
_MASK_TABLE = bytes(0x61 if chr(i) in _TOKEN_CHARS else 0x20 for i in range(256))
_NEEDLE = b"a" * MIN_RUN

# Thresholds calibrated on random tokens (base64, base64url, alphanumeric)
# against identifiers, paths, resource names and k8s-style generated names.
MIN_SWITCH_RATIO = 0.25
MIN_RELATIVE_SWITCHES = 0.5
MIN_ENTROPY_BITS = 3.5

_CHUNK_SPLIT = re.compile(r"[-_/+]+")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_WORDS = re.compile(r"[a-z]*(?:[A-Z][a-z]+)*|[A-Z]+")
_BENIGN_CHUNK_LEN = 8
_HEX_RUN = re.compile(r"[0-9a-f-]+|[0-9A-F-]+")
_DROP_SEPARATORS = str.maketrans("", "", "+/_-")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Za-z]")
# Run and job ids start with a compact UTC timestamp: 20260627T003000123456Z-...
_COMPACT_TIMESTAMP = re.compile(r"\d{8}T\d{4,12}Z?")
_CAMEL_WORD = re.compile(r"[A-Z][a-z]{2,}")


def candidate_runs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every run of 32+ token characters in ``text``."""
    if len(text) < MIN_RUN:
        return
    mask = text.encode("ascii", "replace").translate(_MASK_TABLE)
    position = mask.find(_NEEDLE)
    while position != -1:
        end = mask.find(b" ", position + MIN_RUN)
        if end == -1:
            end = len(mask)
        yield position, end
        position = mask.find(_NEEDLE, end)


def _char_class(char: str) -> int:
    if char.isdigit():
        return 0
    return 1 if char.isupper() else 2


def _camel_case(alnum: str) -> bool:
    """Most capitals start a lowercase word: an identifier, not random text."""
    capitals = sum(1 for c in alnum if c.isupper())
    return capitals > 0 and len(_CAMEL_WORD.findall(alnum)) >= 0.7 * capitals


def switch_scores(alnum: str) -> tuple[float, float]:
    """How often consecutive characters change class, absolute and relative to chance.

    Random text changes class about as often as its class mix predicts;
    words, paths and identifiers change far less. In camel case a capital
    starts a word, so case changes are not counted there.
    """
    if _camel_case(alnum):
        classes = [0 if c.isdigit() else 1 for c in alnum]
    else:
        classes = [_char_class(c) for c in alnum]
    switches = sum(1 for a, b in itertools.pairwise(classes) if a != b)
    absolute = switches / max(len(classes) - 1, 1)
    total = len(classes)
    expected = 1 - sum((n / total) ** 2 for n in Counter(classes).values())
    return absolute, (absolute / expected if expected else 0.0)


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``'s character distribution."""
    if not text:
        return 0.0
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in Counter(text).values())


def _benign_chunk(chunk: str) -> bool:
    return (
        len(chunk) < _BENIGN_CHUNK_LEN
        or chunk.isdigit()
        or _HEX.fullmatch(chunk) is not None
        or _WORDS.fullmatch(chunk) is not None
        or _COMPACT_TIMESTAMP.fullmatch(chunk) is not None
    )


def looks_random(candidate: str) -> bool:
    """True when a run of token characters looks like a key rather than text."""
    if len(candidate) < MIN_RUN or _HEX_RUN.fullmatch(candidate):
        return False
    alnum = candidate.translate(_DROP_SEPARATORS)
    if _DIGIT.search(alnum) is None or _LETTER.search(alnum) is None:
        return False
    if all(_benign_chunk(chunk) for chunk in _CHUNK_SPLIT.split(candidate)):
        return False
    absolute, relative = switch_scores(alnum)
    return (
        absolute >= MIN_SWITCH_RATIO
        and relative >= MIN_RELATIVE_SWITCHES
        and shannon_entropy(alnum) >= MIN_ENTROPY_BITS
    )


# Path-like segments: lowercase words, dates and numbers, or the empty
# segment of "//"; random base64 almost never has two of them.
_PATH_WORD = re.compile(r"[a-z]{2,}|[0-9][0-9-]*|")
_SSH_PUBLIC_KEY_BLOBS = ("AAAAB3NzaC1", "AAAAC3NzaC1", "AAAAE2VjZHNh")


@dataclass(frozen=True)
class HighEntropyRule:
    """Runs of 32+ token characters that look random (see ``entropy``)."""

    name: str = "high-entropy-string"

    def find(self, text: str, lowered: str, placeholder: str) -> Iterator[Span]:
        for start, end in candidate_runs(text):
            run = text[start:end]
            if run.startswith(_SSH_PUBLIC_KEY_BLOBS):
                continue  # public keys are meant to be shown
            segments = run.split("/")
            if sum(1 for s in segments if _PATH_WORD.fullmatch(s)) < 2:
                if looks_random(run):
                    yield Span(start, end, placeholder, True)
                continue
            # a path or URL: only a random segment in it is a secret (/objects/<key>/meta)
            offset = start
            for segment in segments:
                if len(segment) >= 32 and looks_random(segment):
                    yield Span(offset, offset + len(segment), placeholder)
                offset += len(segment) + 1
