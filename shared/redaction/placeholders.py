"""The typed placeholders that replace secrets.

The type says what was there (a GitHub token, a database password) without
saying anything about its value, so a redacted report is still useful. The
generic ``[REDACTED]`` is the configurable one: key-name redaction, generic
``password=...`` values, random-looking strings and custom patterns use it.
"""

from __future__ import annotations

REDACTED = "[REDACTED]"
GH_TOKEN = "[REDACTED_GH_TOKEN]"  # noqa: S105 - a placeholder, not a secret
API_KEY = "[REDACTED_API_KEY]"
SLACK_TOKEN = "[REDACTED_SLACK_TOKEN]"  # noqa: S105 - a placeholder, not a secret
SLACK_WEBHOOK = "[REDACTED_SLACK_WEBHOOK]"
WEBHOOK = "[REDACTED_WEBHOOK]"
AWS_KEY = "[REDACTED_AWS_KEY]"
PRIVATE_KEY = "[REDACTED_PRIVATE_KEY]"
JWT = "[REDACTED_JWT]"
DB_DSN = "[REDACTED_DB_DSN]"
CREDENTIALS = "[REDACTED_CREDENTIALS]"
EMAIL = "[REDACTED_EMAIL]"
