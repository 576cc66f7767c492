"""The map page's data: the papers of a period placed on a 2D projection of their
embeddings (PCA: the two directions along which those papers differ most), coloured by
primary category. The template draws it as plain SVG, one link per dot."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from paperfeed.engine import SearchEngine
from paperfeed.models import Paper, PaperFilter
from paperfeed.web.periods import Period, check_day, period_of
from paperfeed.web.views import NewestDay

MAX_POINTS = 1500
# Eight colours told apart by people with the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
OTHER_COLOUR = "#999999"
OTHER = "other"


@dataclass(frozen=True)
class MapPoint:
    paper_id: str
    title: str
    category: str
    x: float  # 0..1, left to right
    y: float  # 0..1, top to bottom

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.paper_id, "url": f"/papers/{self.paper_id}", "title": self.title,
                "category": self.category, "x": round(self.x, 4), "y": round(self.y, 4)}


@dataclass(frozen=True)
class MapPage:
    period: Period | None  # None: the store has no dated paper, so all papers are mapped
    points: list[MapPoint]
    colours: dict[str, str]  # category -> colour, most frequent first; OTHER last
    papers_in_period: int
    notice: str | None = None

    def colour(self, category: str) -> str:
        return self.colours.get(category, OTHER_COLOUR)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.as_dict() if self.period else None,
            "papers_in_period": self.papers_in_period,
            "points": [p.as_dict() for p in self.points],
            "colours": self.colours,
            "notice": self.notice,
        }


def map_page(engine: SearchEngine, *, view: str = "month", day: date | None = None,
             newest_of: NewestDay | None = None) -> MapPage:
    period = period_of(view, check_day(day)) if day else None
    if period is None and (newest := (newest_of or NewestDay())(engine)) is not None:
        period = period_of(view, newest)
    filters = PaperFilter(date_from=period.start, date_to=period.end) if period else PaperFilter()
    papers, total = engine.store.list_papers(filters=filters, limit=MAX_POINTS)
    if engine.vectors is None:
        return MapPage(period, [], {}, total, "The map needs the embedding model, which is off on this server.")
    notice = f"Showing the newest {MAX_POINTS} of {total} papers." if total > MAX_POINTS else None
    papers, vectors = _with_vectors(engine, papers)
    categories = [p.categories[0] if p.categories else OTHER for p in papers]
    colours = _colours(categories)
    xy = project_2d(vectors)
    points = [
        MapPoint(p.id, p.title, cat if cat in colours else OTHER, float(x), float(y))
        for p, cat, (x, y) in zip(papers, categories, xy)
    ]
    return MapPage(period, points, colours, total, notice)


def _with_vectors(engine: SearchEngine, papers: list[Paper]) -> tuple[list[Paper], np.ndarray]:
    """The papers that have a non-zero vector (a text without a known token has none),
    and those vectors."""
    assert engine.vectors is not None  # checked by the caller; narrows the type
    pk_of = engine.store.pks_for_ids([paper.id for paper in papers])
    by_pk = {pk_of[paper.id]: paper for paper in papers if paper.id in pk_of}
    pks, vectors = engine.vectors.vectors_for(list(by_pk))
    keep = np.any(vectors, axis=1)
    return [by_pk[int(pk)] for pk in pks[keep]], vectors[keep]


def _colours(categories: list[str]) -> dict[str, str]:
    ranked = [cat for cat, _ in Counter(c for c in categories if c != OTHER).most_common(len(PALETTE))]
    colours = dict(zip(ranked, PALETTE))
    if len(set(categories) - set(colours)) > 0:
        colours[OTHER] = OTHER_COLOUR
    return colours


def project_2d(vectors: np.ndarray, *, margin: float = 0.04) -> np.ndarray:
    """Rows of `vectors` on their first two principal components, scaled into
    [margin, 1 - margin]; signs fixed so the same papers always give the same picture."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2))
    centred = vectors - vectors.mean(axis=0)
    if n < 3 or not np.any(centred):
        coords = np.zeros((n, 2))
        coords[:, 0] = np.arange(n)
    else:
        # top-2 eigenvectors of the small d x d scatter matrix: the same directions as an
        # SVD of the n x d data, in milliseconds instead of seconds at 1,500 x 256
        _, eigenvectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
        components = eigenvectors[:, ::-1][:, :2].T
        signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
        coords = centred @ (components * signs[:, None]).T
    low, span = coords.min(axis=0), np.ptp(coords, axis=0)
    span[span == 0] = 1.0
    scaled = (coords - low) / span
    scaled[:, 1] = 1.0 - scaled[:, 1]  # SVG y grows downwards
    return margin + scaled * (1 - 2 * margin)
