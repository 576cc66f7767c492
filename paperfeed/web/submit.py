"""Submit a paper by arXiv id or URL: fetch it from the arXiv API (PAPERFEED_ARXIV_API_URL),
ingest it and index it, so its page exists at once. One short attempt plus one retry: a
person is waiting, so an unreachable arXiv becomes a clear message within seconds."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from paperfeed.config import Settings
from paperfeed.engine import SearchEngine
from paperfeed.errors import InvalidInput, NotFound, SourceError
from paperfeed.ingest import run_ingest
from paperfeed.models import Paper
from paperfeed.sources import arxiv_api
from paperfeed.sources.arxiv_atom import parse_arxiv_id

TIMEOUT_S = 8.0
RETRIES = 1
MAX_INPUT_CHARS = 300


@dataclass(frozen=True)
class Submitted:
    paper: Paper
    added: bool  # False when the store already had it

    def as_dict(self) -> dict[str, object]:
        return {"id": self.paper.id, "url": f"/papers/{self.paper.id}", "title": self.paper.title,
                "added": self.added}


def submit_arxiv(engine: SearchEngine, settings: Settings, text: str, *,
                 limiter: arxiv_api.RateLimiter) -> Submitted:
    text = text.strip()
    if not text:
        raise InvalidInput("Give an arXiv id or URL.",
                           hint="For example 1706.03762 or https://arxiv.org/abs/1706.03762.", field="arxiv_id")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidInput(f"That is {len(text)} characters; an arXiv id or URL is much shorter.", field="arxiv_id")
    arxiv_id, _ = parse_arxiv_id(text)
    if (known := engine.store.find_id(arxiv_id=arxiv_id)) and (paper := engine.store.get_paper(known)):
        return Submitted(paper, added=False)
    items = _fetch(arxiv_id, settings, limiter)
    papers = [item for item in items if isinstance(item, Paper)]
    if not papers:
        raise NotFound(f"arXiv has no paper {arxiv_id}.", hint="Check the id on arxiv.org.", field="arxiv_id")
    run_ingest(engine.store, papers)
    engine.sync()
    paper_id = engine.store.find_id(arxiv_id=arxiv_id)
    paper = engine.store.get_paper(paper_id) if paper_id else None
    if paper is None:  # stored under another arXiv id (arXiv redirected an old one)
        paper = engine.store.get_paper(papers[0].id) or papers[0]
    return Submitted(paper, added=True)


def _fetch(arxiv_id: str, settings: Settings, limiter: arxiv_api.RateLimiter) -> list[object]:
    try:
        with httpx.Client(timeout=TIMEOUT_S, headers={"User-Agent": arxiv_api.USER_AGENT}) as client:
            return list(arxiv_api.fetch_by_ids([arxiv_id], client=client, base_url=settings.arxiv_api_url,
                                               limiter=limiter, max_retries=RETRIES, backoff=1.0))
    except SourceError as exc:
        raise SourceError(f"Could not fetch {arxiv_id} from arXiv: {exc.message}",
                          hint="arXiv may be down or unreachable from this server; try again later.",
                          field="arxiv_id") from exc
