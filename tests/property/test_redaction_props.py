"""Redaction under hypothesis: no secret shape survives being embedded in random text."""

from __future__ import annotations

import json
import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.redaction import redact_data, redact_text

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
UPPER_DIGITS = string.ascii_uppercase + string.digits


def _body(alphabet: str, size: int) -> st.SearchStrategy[str]:
    # Mixed case and digits, so every body looks like a key rather than a word.
    return st.text(alphabet, min_size=size, max_size=size).filter(
        lambda s: len(set(s)) >= min(8, size // 2) and any(c.isdigit() for c in s)
    )


# (prefix, random body) for shapes the redactor must catch by their form alone.
SHAPED = st.one_of(
    st.tuples(st.sampled_from(["ghp_", "gho_", "ghs_"]), _body(ALNUM, 36)),
    st.tuples(st.just("github_pat_"), _body(ALNUM, 40)),
    st.tuples(st.just("AKIA"), _body(UPPER_DIGITS, 16)),
    st.tuples(st.just("AIza"), _body(ALNUM + "_-", 35)),
    st.tuples(st.sampled_from(["xoxb-", "xoxp-"]), _body(ALNUM, 30)),
    st.tuples(st.sampled_from(["sk_live_", "rk_test_"]), _body(ALNUM, 24)),
    st.tuples(st.just("glpat-"), _body(ALNUM, 20)),
    st.tuples(st.just("npm_"), _body(ALNUM, 36)),
    st.tuples(st.just("hf_"), _body(ALNUM, 34)),
    st.tuples(st.just("ya29."), _body(ALNUM, 40)),
    st.tuples(st.just("dapi"), _body(HEX, 32)),
)
# Random text around the secret; separators keep the secret a token of its own.
AROUND = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
SEPARATORS = st.sampled_from([" ", "\n", "\t", '"', "'", ",", ";", "(", ")", ": ", "<", ">"])
KEYS = st.sampled_from(["password", "api_key", "token", "secret", "client_secret", "AUTH_TOKEN"])


@settings(max_examples=300, deadline=None)
@given(secret=SHAPED, before=AROUND, after=AROUND, left=SEPARATORS, right=SEPARATORS)
def test_shaped_secrets_never_survive(
    secret: tuple[str, str], before: str, after: str, left: str, right: str
) -> None:
    """A vendor-shaped token anywhere in random text is gone after redact_text."""
    prefix, body = secret
    assume(body not in before and body not in after)
    text = f"{before}{left}{prefix}{body}{right}{after}"
    assert body not in redact_text(text)


@settings(max_examples=200, deadline=None)
@given(key=KEYS, value=_body(ALNUM + "!@#%^*", 20), before=AROUND, after=AROUND)
def test_secret_values_by_key_never_survive(key: str, value: str, before: str, after: str) -> None:
    """``key=value`` with a credential-looking key hides the value whatever surrounds it."""
    assume(value not in before and value not in after)
    text = f"{before}\n{key}={value}\n{after}"
    assert value not in redact_text(text)


@settings(max_examples=200, deadline=None)
@given(
    secret=SHAPED,
    key=st.text(string.ascii_lowercase, min_size=1, max_size=8),
    nesting=st.integers(0, 3),
)
def test_secrets_in_nested_data_never_survive(
    secret: tuple[str, str], key: str, nesting: int
) -> None:
    """redact_data reaches a token however deep it sits in dicts and lists."""
    prefix, body = secret
    value: object = f"see {prefix}{body} here"
    for level in range(nesting):
        value = {key: value} if level % 2 == 0 else [value]
    assert body not in json.dumps(redact_data(value))


@settings(max_examples=200, deadline=None)
@given(text=AROUND)
def test_redaction_is_idempotent(text: str) -> None:
    """Redacting twice changes nothing more than redacting once."""
    once = redact_text(text)
    assert redact_text(once) == once
