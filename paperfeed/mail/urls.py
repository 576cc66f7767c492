"""The site's addresses that mails link to: one place, so the web routes that answer them
(docs/email.md lists them) and the mails cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class SiteUrls:
    public_url: str  # Settings.public_url: scheme and host, no trailing slash

    def paper(self, paper_id: str) -> str:
        # Paper ids may hold "/" (hep-th/9901001); everything else that is not plain is escaped,
        # so no id can turn the link into another scheme or host.
        return f"{self.public_url}/papers/{quote(paper_id, safe='/')}"

    def confirm(self, token: str) -> str:
        return f"{self.public_url}/subscribe/confirm/{quote(token, safe='')}"

    def preferences(self, token: str) -> str:
        return f"{self.public_url}/subscription/{quote(token, safe='')}"

    def unsubscribe(self, token: str) -> str:
        return f"{self.public_url}/unsubscribe/{quote(token, safe='')}"

    def sign_in(self, token: str) -> str:
        return f"{self.public_url}/sign-in/{quote(token, safe='')}"

    def home(self) -> str:
        return f"{self.public_url}/"
