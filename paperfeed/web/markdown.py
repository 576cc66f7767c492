"""The Markdown subset comments are written in, rendered to safe HTML.

markdown-it-py with raw HTML off (any tag a user types is shown as text), no images, no
headings or tables: paragraphs, emphasis, code, lists, quotes and links. Links go through
markdown-it's validateLink (javascript:, vbscript:, file: and data: are refused) and then
an allow-list of http, https and mailto, and get rel="nofollow ugc noopener" so the site
lends spam no ranking.
"""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt

ALLOWED_SCHEMES = ("http://", "https://", "mailto:")
_RULES = ["emphasis", "backticks", "link", "newline", "escape", "entity", "text", "text_join",
          "paragraph", "list", "blockquote", "fence", "code"]


def _allowed(url: str) -> bool:
    return url.lower().startswith(ALLOWED_SCHEMES)


def _build() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False})
    md.enable([rule for rule in _RULES if rule in _known_rules(md)])
    md.validateLink = _allowed  # type: ignore[method-assign]

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "nofollow ugc noopener")
        return renderer.renderToken(tokens, idx, options, env)  # type: ignore[no-any-return]

    md.add_render_rule("link_open", link_open)
    return md


def _known_rules(md: MarkdownIt) -> set[str]:
    chains = md.get_all_rules()
    return {name for rules in chains.values() for name in rules}


_MD = _build()


def render_markdown(source: str) -> str:
    """Safe HTML for a comment body."""
    return _MD.render(source)
