"""Which field names hold secrets, whatever their values look like.

One judgement shared by structured redaction (dict keys) and text redaction
(``password=...``, ``"token": "..."``, ``X-Api-Key: ...``), so a field is
treated the same way whether it arrives as JSON or inside a log line.

A name is normalised first (``clientSecret``, ``CLIENT-SECRET`` and
``client.secret`` all become ``client_secret``) and is secret when it *ends*
with a secret word: ``db_password`` and ``GITHUB_TOKEN`` are secret,
``max_tokens``, ``token_count`` and ``secret_name`` are not. Short words
(``pwd``, ``pass``, ``auth``, ``sig``) only count as a whole segment, so
``bypass`` and ``oauth`` stay readable.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")

# Qualifiers that turn a plain "key" into key material (api_key, signing_key, ...).
_KEY_QUALIFIERS = (
    "api|access|secret|private|account|signing|encryption|master|hmac|license|app|client"
    "|auth|subscription|shared|ssh|deploy|session|consumer|storage|webhook|x_api"
)
_SECRET_NAME = re.compile(
    r"(?:"
    # long, distinctive words: any prefix (dbpassword, githubtoken, x_hub_signature_256)
    r"passwords?|passwd|passphrase|secrets?|token|apikey|credentials?|authorization"
    r"|cookie|signature(?:_?v?\d+)?"
    rf"|(?:{_KEY_QUALIFIERS})_?key"
    r")$"
    # short words: a whole segment only (db_pass, basic_auth, but not bypass or oauth)
    r"|(?:^|_)(?:pwd|pass|auth|sig)$"
)
# Names that end like a secret but hold something harmless: paging cursors
# and the shell's previous working directory.
_NOT_SECRET = re.compile(
    r"(?:^|_)(?:page|next|next_page|continuation|sync|resume|pagination|cursor)_token$|^oldpwd$"
)


def normalize_key(name: str) -> str:
    """``clientSecret`` / ``Client-Secret`` / ``client.secret`` → ``client_secret``."""
    spaced = _CAMEL_BOUNDARY.sub("_", name.strip())
    return _SEPARATORS.sub("_", spaced.lower()).strip("_")


@lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """True when a field with this name holds a secret whatever its value."""
    key = normalize_key(name)
    return bool(key) and _SECRET_NAME.search(key) is not None and not _NOT_SECRET.search(key)
