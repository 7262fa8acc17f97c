"""Who may approve, and which labels speak for a decision.

``OPSPLANE_APPROVERS`` is a comma list of GitHub logins (case-insensitive,
a leading ``@`` is fine). Empty means nobody: the watcher still opens
approval issues, and answers every command by saying so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.settings import Environ, env_list

APPROVAL_LABEL = "opsplane-approval"
APPROVED_LABEL = "approved"
REJECTED_LABEL = "rejected"


@dataclass(frozen=True)
class ApprovalSettings:
    """The watcher's configuration."""

    approvers: frozenset[str] = frozenset()
    label: str = APPROVAL_LABEL
    approved_label: str = APPROVED_LABEL
    rejected_label: str = REJECTED_LABEL

    def allowed(self, login: str) -> bool:
        """Whether ``login`` may approve or reject runs."""
        return login.strip().lstrip("@").lower() in self.approvers

    @classmethod
    def from_env(cls, env: Environ | None = None) -> ApprovalSettings:
        env = os.environ if env is None else env
        logins = env_list(env, "OPSPLANE_APPROVERS")
        return cls(approvers=frozenset(login.lstrip("@").lower() for login in logins))
