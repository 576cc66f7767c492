"""Collection pages and their exports. Private collections are visible to their owner
only (others get a 404, so their existence does not leak); public ones to everyone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from urllib.parse import parse_qs

from paperfeed.errors import Forbidden, InvalidInput, NotFound
from paperfeed.models import Paper
from paperfeed.store.community import Collection
from paperfeed.web.api import engine_of
from paperfeed.web.collections_io import export_bibtex, export_json, import_bibtex
from paperfeed.web.comments import _poster
from paperfeed.web.pages import _form, _render
from paperfeed.web.session import current_user, utc_now

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["community"])
MAX_NAME = 100
MAX_NOTE = 1000
MAX_IMPORT_BYTES = 256 * 1024


def _visible(request: Request, collection_id: int) -> Collection:
    collection = engine_of(request).store.community.get_collection(collection_id)
    me = current_user(request)
    if collection is None or not (collection.public or (me is not None and me.id == collection.user_id)):
        raise NotFound(f"No collection {collection_id}.", hint="It may be private or deleted.")
    return collection


def _items(request: Request, collection: Collection) -> list[tuple[Paper, str]]:
    store = engine_of(request).store
    items = store.community.collection_items(collection.id)
    papers = {p.id: p for p in store.get_papers([pid for pid, _ in items])}
    return [(papers[pid], note) for pid, note in items if pid in papers]


def _name(form: dict[str, str]) -> str:
    name = " ".join(form.get("name", "").split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"A collection name has 1 to {MAX_NAME} characters.", field="name")
    return name


@router.post("/collections")
async def create(request: Request) -> Response:
    form = await _form(request)
    user = _poster(request, form)
    collection_id = engine_of(request).store.community.create_collection(
        user.id, _name(form), public=form.get("public") == "1", now=utc_now())
    paper_id = form.get("paper_id", "")
    if paper_id:  # "new collection" from a paper page: put the paper in it
        engine_of(request).store.community.put_item(collection_id, user.id, paper_id, note="", now=utc_now())
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@router.get("/collections/{collection_id}", response_class=HTMLResponse)
def page(request: Request, collection_id: int) -> HTMLResponse:
    collection = _visible(request, collection_id)
    me = current_user(request)
    owner = engine_of(request).store.community.get_user(collection.user_id)
    return _render(request, "collection.html", collection=collection, items=_items(request, collection),
                   own=me is not None and me.id == collection.user_id, owner=owner,
                   imported=request.query_params.get("imported"), unmatched=request.query_params.get("unmatched"))


def _owned(request: Request, collection_id: int, form: dict[str, str]) -> tuple[Collection, int]:
    user = _poster(request, form)
    collection = engine_of(request).store.community.get_collection(collection_id)
    if collection is None:
        raise NotFound(f"No collection {collection_id}.")
    if collection.user_id != user.id:
        raise Forbidden("Only the collection's owner can change it.")
    return collection, user.id


@router.post("/collections/save")
async def save(request: Request) -> Response:
    """The paper page's "save to" form: the collection comes in the form."""
    form = await _form(request)
    if not form.get("collection_id", "").isdigit():
        raise InvalidInput("Pick a collection.", field="collection_id")
    return await _put(request, int(form["collection_id"]), form)


@router.post("/collections/{collection_id}/items")
async def put_item(request: Request, collection_id: int) -> Response:
    return await _put(request, collection_id, await _form(request))


async def _put(request: Request, collection_id: int, form: dict[str, str]) -> Response:
    collection, user_id = _owned(request, collection_id, form)
    note = form.get("note", "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"A note has at most {MAX_NOTE} characters.", field="note")
    engine_of(request).store.community.put_item(collection.id, user_id, form.get("paper_id", ""), note=note,
                                                now=utc_now())
    return RedirectResponse(f"/collections/{collection.id}", status_code=303)


@router.post("/collections/{collection_id}/items/remove")
async def remove_item(request: Request, collection_id: int) -> Response:
    form = await _form(request)
    collection, user_id = _owned(request, collection_id, form)
    engine_of(request).store.community.remove_item(collection.id, user_id, form.get("paper_id", ""))
    return RedirectResponse(f"/collections/{collection.id}", status_code=303)


@router.post("/collections/{collection_id}/settings")
async def settings(request: Request, collection_id: int) -> Response:
    form = await _form(request)
    collection, user_id = _owned(request, collection_id, form)
    engine_of(request).store.community.update_collection(collection.id, user_id, name=_name(form),
                                                         public=form.get("public") == "1")
    return RedirectResponse(f"/collections/{collection.id}", status_code=303)


@router.post("/collections/{collection_id}/delete")
async def delete(request: Request, collection_id: int) -> Response:
    form = await _form(request)
    collection, user_id = _owned(request, collection_id, form)
    engine_of(request).store.community.delete_collection(collection.id, user_id)
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post("/collections/{collection_id}/import")
async def import_bib(request: Request, collection_id: int) -> Response:
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"The import is over {MAX_IMPORT_BYTES // 1024} KiB.", field="bibtex",
                           hint="Split the file.")
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).items()}
    collection, user_id = _owned(request, collection_id, form)
    matched, unmatched = import_bibtex(engine_of(request), form.get("bibtex", ""))
    for paper_id in matched:
        engine_of(request).store.community.put_item(collection.id, user_id, paper_id, note="", now=utc_now())
    return RedirectResponse(f"/collections/{collection.id}?imported={len(matched)}&unmatched={len(unmatched)}",
                            status_code=303)


@api_router.get("/api/v1/collections/{collection_id}.{fmt}", summary="Export a collection as BibTeX or JSON",
                response_class=Response)
def export(request: Request, collection_id: int, fmt: str) -> Response:
    if fmt not in ("bib", "json"):
        raise InvalidInput(f"Export format must be bib or json, got {fmt[:10]!r}.", field="format")
    collection = _visible(request, collection_id)
    items = _items(request, collection)
    filename = f"collection-{collection.id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"}
    if fmt == "bib":
        return Response(export_bibtex([p for p, _ in items]), media_type="application/x-bibtex; charset=utf-8",
                        headers=headers)
    counts = engine_of(request).store.community.card_counts([p.id for p, _ in items])
    return Response(export_json(collection, items, counts), media_type="application/json", headers=headers)


def my_collections(request: Request) -> list[Any]:
    me = current_user(request)
    return engine_of(request).store.community.collections_of(me.id, public_only=False) if me else []
