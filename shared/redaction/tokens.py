"""Credentials recognisable by their shape: vendor prefixes, JWTs, key blocks.

Each entry is one pattern that starts with a literal, so the regex engine
skips to candidates with a substring search. Formats follow the public rule
sets of gitleaks, trufflehog and detect-secrets; bodies are a little more
lenient on length than the vendors' exact formats so that truncated or
re-wrapped tokens are still caught.
"""

from __future__ import annotations

import re

from shared.redaction import placeholders as ph
from shared.redaction.rules import Judge, PatternRule, Span

_END = r"(?![A-Za-z0-9_-])"
_LITERAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~:/-")


def _literal_prefix(regex: str) -> str:
    """The fixed text every match of ``regex`` starts with (its trigger)."""
    literal: list[str] = []
    i = 0
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex) and not regex[i + 1].isalnum():
            char, width = regex[i + 1], 2
        elif char in _LITERAL_CHARS:
            width = 1
        else:
            break
        following = regex[i + width : i + width + 2]
        if following[:1] in {"?", "*"} or following == "{0":
            break
        literal.append(char)
        if following[:1] in {"+", "{"}:
            break
        i += width
    return "".join(literal)


def _token(
    name: str,
    regex: str,
    placeholder: str = ph.API_KEY,
    *,
    bounded: bool = True,
    judge: Judge | None = None,
    flags: int = 0,
    triggers: tuple[str, ...] = (),
) -> PatternRule:
    """A shaped token; its literal prefix is the trigger that gates it.

    Explicit ``triggers`` replace a prefix too short to be selective ("gh").
    """
    literal = _literal_prefix(regex)
    return PatternRule(
        name=name,
        pattern=re.compile(regex, flags),
        placeholder=placeholder,
        triggers=triggers or ((literal,) if literal else ()),
        bounded=bounded,
        judge=judge,
    )


def _extend_to_url(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """A webhook URL is a secret as a whole: take its scheme and host too."""
    start = match.start()
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in ".-"):
        start -= 1
    for scheme in ("https://", "http://"):
        if text.startswith(scheme, start - len(scheme)):
            start -= len(scheme)
            break
    return Span(start, match.end(), placeholder)


def _with_head(head_regex: str, width: int) -> Judge:
    """For tokens whose literal sits mid-token: require and take the head before it."""
    head = re.compile(rf"(?<![A-Za-z0-9_])(?:{head_regex})\Z")

    def judge(match: re.Match[str], text: str, placeholder: str) -> Span | None:
        low = max(0, match.start() - width - 1)
        found = head.search(text[low : match.start()])
        if found is None:
            return None
        return Span(low + found.start(), match.end(), placeholder)

    return judge


TOKEN_RULES: tuple[PatternRule, ...] = (
    _token(
        "private-key-block",
        r"-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:[A-Za-z0-9+/=\s]|\\[nr])*)",
        ph.PRIVATE_KEY,
        bounded=False,
        flags=re.DOTALL,
    ),
    _token(
        "github-token",
        r"gh[pousr]_[A-Za-z0-9]{20,255}" + _END,
        ph.GH_TOKEN,
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _token("github-fine-grained-token", r"github_pat_[A-Za-z0-9_]{20,255}", ph.GH_TOKEN),
    # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-api03-), DeepSeek...:
    # a digit somewhere in the body keeps words like sk-learn-style-names readable.
    _token("openai-style-key", r"sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
    _token(
        "stripe-secret-key",
        r"sk_(?:live|test|prod)_[A-Za-z0-9]{10,}" + _END,
        triggers=("sk_live_", "sk_test_", "sk_prod_"),
    ),
    _token(
        "stripe-restricted-key",
        r"rk_(?:live|test|prod)_[A-Za-z0-9]{10,}" + _END,
        triggers=("rk_live_", "rk_test_", "rk_prod_"),
    ),
    _token("stripe-webhook-secret", r"whsec_[A-Za-z0-9+/=]{20,}"),
    _token(
        "slack-token",
        r"xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]{10,}",
        ph.SLACK_TOKEN,
        triggers=("xoxa-", "xoxb-", "xoxc-", "xoxd-", "xoxe", "xoxo-", "xoxp-", "xoxr-", "xoxs-"),
    ),
    _token("slack-app-token", r"xapp-\d-[A-Za-z0-9-]{10,}", ph.SLACK_TOKEN),
    _token(
        "slack-webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{8,}",
        ph.SLACK_WEBHOOK,
        bounded=False,
        judge=_extend_to_url,
    ),
    _token(
        "discord-webhook",
        r"discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+",
        ph.WEBHOOK,
        bounded=False,
        judge=_extend_to_url,
    ),
    _token(
        "teams-webhook",
        r"webhook\.office\.com/webhookb2/[^\s\"'<>]+",
        ph.WEBHOOK,
        bounded=False,
        judge=_extend_to_url,
    ),
    # AKIA (long-term) and ASIA (temporary) keys, and the other IAM unique-id
    # prefixes gitleaks flags.
    _token(
        "aws-access-key-id",
        r"A(?:KIA|SIA|3T[A-Z0-9]|GPA|IDA|ROA|IPA|NPA|NVA|PKA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        ph.AWS_KEY,
        triggers=(
            "AKIA",
            "ASIA",
            "A3T",
            "AGPA",
            "AIDA",
            "AROA",
            "AIPA",
            "ANPA",
            "ANVA",
            "APKA",
            "ABIA",
            "ACCA",
        ),
    ),
    _token("google-api-key", r"AIza[0-9A-Za-z_-]{30,40}" + _END),
    _token("google-oauth-client-secret", r"GOCSPX-[A-Za-z0-9_-]{20,}"),
    _token("google-oauth-access-token", r"ya29\.[A-Za-z0-9_-]{20,}"),
    _token("google-oauth-refresh-token", r"1//0[A-Za-z0-9_-]{30,}"),
    _token(
        "jwt",
        r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,3}",
        ph.JWT,
    ),
    _token(
        "gitlab-token",
        r"gl(?:pat|dt|ptt|rt|soat|cbt|imt|agent|oas|ft|ffct)-[A-Za-z0-9_-]{20,}",
        triggers=(
            "glpat-",
            "gldt-",
            "glptt-",
            "glrt-",
            "glsoat-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glft-",
            "glffct-",
        ),
    ),
    _token("gitlab-runner-token", r"GR1348941[A-Za-z0-9_-]{20,}"),
    _token("npm-token", r"npm_[A-Za-z0-9]{30,}" + _END),
    _token("pypi-token", r"pypi-AgE[A-Za-z0-9_-]{50,}"),
    _token("sendgrid-key", r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    _token("twilio-api-key", r"SK[0-9a-fA-F]{32}(?![A-Za-z0-9])"),
    _token("mailgun-key", r"key-[0-9a-zA-Z]{32}(?![A-Za-z0-9])"),
    _token(
        "mailchimp-key",
        r"-us\d{1,2}(?![A-Za-z0-9])",
        bounded=False,
        judge=_with_head(r"[0-9a-f]{32}", 32),
    ),
    _token(
        "shopify-token",
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
        triggers=("shpat_", "shpca_", "shppa_", "shpss_"),
    ),
    _token("huggingface-token", r"hf_[A-Za-z0-9]{30,}" + _END),
    _token("huggingface-org-token", r"api_org_[A-Za-z0-9]{30,}" + _END),
    _token("replicate-token", r"r8_[A-Za-z0-9]{30,}" + _END),
    _token("groq-key", r"gsk_[A-Za-z0-9]{40,}"),
    _token("perplexity-key", r"pplx-[A-Za-z0-9]{40,}"),
    _token("xai-key", r"xai-[A-Za-z0-9]{40,}"),
    _token(
        "docker-hub-token",
        r"dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}",
        triggers=("dckr_pat_", "dckr_oat_"),
    ),
    _token("pulumi-token", r"pul-[a-f0-9]{40}"),
    _token("supabase-token", r"sbp_[a-f0-9]{40}"),
    _token("supabase-secret-key", r"sb_secret_[A-Za-z0-9_-]{20,}"),
    _token("prefect-token", r"pnu_[A-Za-z0-9]{36}"),
    _token("readme-key", r"rdme_[a-z0-9]{60,}"),
    _token("rubygems-key", r"rubygems_[a-f0-9]{48}"),
    _token("databricks-token", r"dapi[a-f0-9]{32}(?:-\d)?" + _END),
    _token("linear-key", r"lin_api_[A-Za-z0-9]{40}"),
    _token("postman-key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    _token("grafana-cloud-token", r"glc_[A-Za-z0-9+/]{32,}={0,2}"),
    _token("grafana-service-account-token", r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    _token(
        "new-relic-key",
        r"NR(?:AK|II|JS|AA)-[A-Za-z0-9]{20,}",
        triggers=("NRAK-", "NRII-", "NRJS-", "NRAA-"),
    ),
    _token("sentry-token", r"sntry[su]_[A-Za-z0-9+/=_-]{40,}", triggers=("sntrys_", "sntryu_")),
    _token("heroku-token", r"HRKU-[A-Za-z0-9_-]{20,}"),
    _token("contentful-token", r"CFPAT-[A-Za-z0-9_-]{40,}"),
    _token("planetscale-token", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9=._-]{32,}"),
    _token("vault-token", r"hv[sbr]\.[A-Za-z0-9_-]{24,}", triggers=("hvs.", "hvb.", "hvr.")),
    _token(
        "digitalocean-token", r"do[opr]_v1_[a-f0-9]{64}", triggers=("dop_v1_", "doo_v1_", "dor_v1_")
    ),
    _token("square-token", r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}", triggers=("sq0atp-", "sq0csp-")),
    _token("square-or-facebook-token", r"EAA[A-Za-z0-9]{50,}"),
    _token("age-secret-key", r"AGE-SECRET-KEY-1[A-Z0-9]{50,}"),
    _token("atlassian-token", r"AT(?:ATT|CTT)3[A-Za-z0-9_=-]{100,}", triggers=("ATATT3", "ATCTT3")),
    _token("doppler-token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}"),
    _token(
        "terraform-cloud-token",
        r"\.atlasv1\.[A-Za-z0-9_=-]{60,}",
        bounded=False,
        judge=_with_head(r"[A-Za-z0-9]{14}", 14),
    ),
    _token("flyio-token", r"fo1_[A-Za-z0-9_-]{40,}"),
    _token(
        "flyio-macaroon",
        r"fm[12][ar]?_[A-Za-z0-9+/=]{100,}",
        triggers=("fm1_", "fm2_", "fm1a_", "fm1r_", "fm2a_", "fm2r_"),
    ),
    _token(
        "azure-ad-client-secret",
        r"Q~[A-Za-z0-9_~.-]{31,34}",
        bounded=False,
        judge=_with_head(r"[A-Za-z0-9_~.]{3}\d", 4),
    ),
    _token("alibaba-access-key", r"LTAI[A-Za-z0-9]{20}" + _END),
    _token("twitter-bearer-token", r"AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}"),
    _token("dropbox-token", r"sl\.u?[A-Za-z0-9_-]{130,}"),
    _token("shippo-token", r"shippo_(?:live|test)_[a-f0-9]{40}"),
    _token("flutterwave-key", r"FLWSECK(?:_TEST)?-[a-f0-9]{32}-X"),
    _token("duffel-token", r"duffel_(?:test|live)_[A-Za-z0-9_=-]{40,}"),
    _token("easypost-key", r"EZ[AT]K[A-Za-z0-9]{50,}", triggers=("EZAK", "EZTK")),
    _token("frameio-token", r"fio-u-[A-Za-z0-9_=-]{60,}"),
    _token("typeform-token", r"tfp_[A-Za-z0-9_.=-]{50,}"),
    _token("airtable-token", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
    _token("adobe-client-secret", r"p8e-[A-Za-z0-9]{32}"),
    _token("clojars-token", r"CLOJARS_[a-z0-9]{60}"),
    _token("nuget-key", r"oy2[a-z0-9]{43}" + _END),
    _token("octopus-key", r"API-[A-Z0-9]{26}" + _END),
    _token("infracost-key", r"ico-[A-Za-z0-9]{32}"),
    _token("sourcegraph-token", r"sgp_[A-Za-z0-9_]{40,}"),
    _token("scalingo-token", r"tk-us-[A-Za-z0-9_-]{48}"),
    _token("jfrog-token", r"AKCp[A-Za-z0-9]{60,}"),
    _token("jfrog-reference-token", r"cmVmdGtu[A-Za-z0-9]{40,}"),
    _token("plaid-token", r"access-(?:sandbox|development|production)-[a-f0-9-]{36}"),
    _token(
        "telegram-bot-token",
        r":AA[A-Za-z0-9_-]{33}" + _END,
        bounded=False,
        judge=_with_head(r"\d{8,10}", 10),
    ),
    _token("cloudflare-origin-ca-key", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{140,}"),
)
