"""Collections through the app on both stores: private/public, notes, ownership, BibTeX
and JSON export, BibTeX import matched by arXiv id, DOI and title."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from paperfeed.web.collections_io import parse_bibtex
from tests.web.test_comments_web import _post
from tests.web.test_community_web import XSS, CapturingMailer, app_client, sign_in  # noqa: F401 - fixture


def _create(client: TestClient, name: str, public: bool = False, paper_id: str = "") -> int:
    response = client.post("/collections", data={"name": name, "public": "1" if public else "",
                                                 "paper_id": paper_id, "csrf": client.cookies["pf_csrf"]},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_collection_lifecycle_export_and_privacy(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer, "ada@example.org")
    cid = _create(client, f"Reading {XSS}", paper_id="fresh0")
    assert _post(client, "/collections/save", collection_id=str(cid), paper_id="fresh1", note=f"note {XSS}") == 303
    page = client.get(f"/collections/{cid}").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "Fresh paper 1" in page
    bib = client.get(f"/api/v1/collections/{cid}.bib")
    assert bib.status_code == 200 and bib.text.count("@") == 2 and "attachment" in bib.headers["content-disposition"]
    data = json.loads(client.get(f"/api/v1/collections/{cid}.json").text)
    assert [p["id"] for p in data["papers"]] == ["fresh0", "fresh1"] and data["papers"][1]["note"] == f"note {XSS}"
    assert client.get(f"/api/v1/collections/{cid}.xml").status_code == 400
    ada = dict(client.cookies)
    client.cookies.clear()
    assert client.get(f"/collections/{cid}").status_code == 404  # private: invisible to others
    assert client.get(f"/api/v1/collections/{cid}.bib").status_code == 404
    sign_in(client, mailer, "bob@example.org")
    assert _post(client, f"/collections/{cid}/items", paper_id="fresh2") == 403
    assert _post(client, f"/collections/{cid}/delete") == 403
    assert _post(client, f"/collections/{cid}/settings", name="mine now", public="1") == 403
    client.cookies.clear()
    for name, value in ada.items():
        client.cookies.set(name, value, domain="testserver.local")
    assert _post(client, f"/collections/{cid}/settings", name="Reading", public="1") == 303
    client.cookies.clear()
    assert "Fresh paper 0" in client.get(f"/collections/{cid}").text  # public now
    owner = client.app.state.engine.store.community.get_collection(cid).user_id  # type: ignore[attr-defined]
    assert f'href="/collections/{cid}"' in client.get(f"/users/{owner}").text  # listed on the profile


def test_bibtex_import_matches_by_arxiv_doi_and_title(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    store = client.app.state.engine.store  # type: ignore[attr-defined]
    from datetime import datetime, timezone

    from tests.conftest import make_paper

    store.write_papers([make_paper("Attention Is All You Need", id="1706.03762", arxiv_id="1706.03762"),
                        make_paper("Deep Residual Learning", id="doi-paper", doi="10.1109/cvpr.2016.90")],
                       ingested_at=datetime.now(timezone.utc))
    sign_in(client, mailer)
    cid = _create(client, "Imported")
    bibtex = """@comment{ignored}
@article{vaswani, title = {Attention {Is} All You Need}, eprint = "1706.03762v5", archivePrefix = {arXiv}}
@inproceedings{he, title={Something else}, doi = {10.1109/CVPR.2016.90}, year = 2016}
@misc{bytitle, title = {Fresh paper 2 <script>alert(1)</script><img src=x onerror=alert(2)>}}
@misc{missing, title = {A paper nobody has stored}}"""
    response = client.post(f"/collections/{cid}/import", data={"bibtex": bibtex, "csrf": client.cookies["pf_csrf"]},
                           follow_redirects=False)
    assert response.status_code == 303 and "imported=3&unmatched=1" in response.headers["location"]
    ids = [p["id"] for p in json.loads(client.get(f"/api/v1/collections/{cid}.json").text)["papers"]]
    assert sorted(ids) == ["1706.03762", "doi-paper", "fresh2"]
    broken = client.post(f"/collections/{cid}/import", data={"bibtex": "@article{x, title={open", "csrf":
                                                                   client.cookies["pf_csrf"]})
    assert broken.status_code == 400 and "unbalanced" in broken.text
    assert client.post(f"/collections/{cid}/import", data={"bibtex": bibtex}).status_code == 403  # no CSRF


def test_parse_bibtex_fields() -> None:
    [entry] = parse_bibtex('@Article{k1,\n  Title = {A {B} c},\n  author = "X and Y",\n  year = 2020,\n}')
    assert entry == {"_type": "article", "_key": "k1", "title": "A B c", "author": "X and Y", "year": "2020"}
    assert parse_bibtex("no entries here") == []
