"""Anonymous share-link PDFs: rendered once per illustration version and cached, and rate-limited per link."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from illustrations import views
from illustrations.models import ShareLink
from tests.illustrations.test_views import make_illustration

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """Count the real renderings (the PDF is still made by WeasyPrint)."""
    seen: list[str] = []
    real = views.render_pdf

    def counting(html: str, **kwargs) -> bytes:
        seen.append(html)
        return real(html, **kwargs)

    monkeypatch.setattr(views, "render_pdf", counting)
    return seen


def _token(link: ShareLink) -> str:
    return link.get_share_url().rstrip("/").rsplit("/", 1)[1]


def test_the_same_illustration_is_rendered_once_and_served_from_the_cache(manager, renders):
    link = ShareLink.issue(make_illustration(manager))
    url = reverse("illustrations:share_pdf", args=[_token(link)])
    first, second = Client().get(url), Client().get(url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and first.content.startswith(b"%PDF-")
    assert len(renders) == 1
    # Another illustration (another version of the content) is rendered for itself.
    other = ShareLink.issue(make_illustration(manager, rates=(D(7), D(9))))
    assert Client().get(reverse("illustrations:share_pdf", args=[_token(other)])).status_code == 200
    assert len(renders) == 2


def test_a_link_is_rate_limited_and_another_link_is_not(manager, renders):
    illustration = make_illustration(manager)
    link, other = ShareLink.issue(illustration), ShareLink.issue(illustration)
    url = reverse("illustrations:share_pdf", args=[_token(link)])
    statuses = [Client().get(url).status_code for _ in range(views.SHARE_PDF_PER_MINUTE + 2)]
    assert statuses == [200] * views.SHARE_PDF_PER_MINUTE + [429, 429]
    refused = Client().get(url)
    assert refused["Retry-After"] == "60" and refused["Cache-Control"] == "no-store"
    assert Client().get(reverse("illustrations:share_pdf", args=[_token(other)])).status_code == 200
