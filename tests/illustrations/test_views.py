"""Manager pages, the client's share page, tokens, pilot events and downloads."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from illustrations.models import SHARE_SALT, Illustration, Product, ShareLink, ShareView

pytestmark = pytest.mark.usefixtures("english")


def form_data(products=None, **overrides) -> dict:
    products = (
        products if products is not None else [("Вклад", "15", "monthly", "low"), ("Фонд", "18", "yearly", "high")]
    )
    data = {
        "client_label": "Иван",
        "currency": "RUB",
        "initial_amount": "1 000 000",
        "monthly_topup": "10000",
        "horizon_years": "10",
        "products-TOTAL_FORMS": str(max(6, len(products))),
        "products-INITIAL_FORMS": "0",
        "products-MIN_NUM_FORMS": "0",
        "products-MAX_NUM_FORMS": "6",
    }
    for i in range(max(6, len(products))):
        name, rate, compounding, risk = products[i] if i < len(products) else ("", "", "yearly", "low")
        data.update(
            {
                f"products-{i}-name": name,
                f"products-{i}-rate_pct": rate,
                f"products-{i}-compounding": compounding,
                f"products-{i}-risk": risk,
            }
        )
    data.update(overrides)
    return data


def make_illustration(manager, label="Иван", rates=(D(15), D(18))) -> Illustration:
    ill = Illustration.objects.create(
        manager=manager, client_label=label, initial_amount=D(1000000), monthly_topup=D(0), horizon_years=10
    )
    for i, rate in enumerate(rates):
        Product.objects.create(
            illustration=ill, position=i, name=f"P{i}", rate_pct=rate, compounding="yearly", risk="low"
        )
    return ill


# --------------------------------------------------------------------------- the form


@pytest.fixture
def illustration(manager) -> Illustration:
    return make_illustration(manager)


@pytest.fixture
def link(illustration) -> ShareLink:
    return ShareLink.issue(illustration)


def test_manager_creates_an_illustration_with_products(manager_client, manager):
    response = manager_client.post(reverse("illustrations:create"), form_data())
    ill = Illustration.objects.get()
    assert response.status_code == 302 and response["Location"] == ill.get_absolute_url()
    assert ill.manager == manager and ill.initial_amount == D(1000000) and ill.monthly_topup == D(10000)
    assert [(p.name, p.rate_pct, p.compounding, p.risk) for p in ill.products.all()] == [
        ("Вклад", D(15), "monthly", "low"),
        ("Фонд", D(18), "yearly", "high"),
    ]


def test_the_empty_form_offers_three_editable_presets(manager_client):
    html = manager_client.get(reverse("illustrations:create")).content.decode()
    assert 'name="products-0-rate_pct" value="15"' in html
    assert 'name="products-2-rate_pct" value="18"' in html
    assert 'name="products-3-name"' in html and 'name="products-5-name"' in html
    assert 'name="products-6-name"' not in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"initial_amount": "-5"}, "initial_amount", "greater than zero"),
        ({"initial_amount": "1e15"}, "initial_amount", "unrealistic"),
        ({"initial_amount": "abc"}, "initial_amount", "Enter a number"),
        ({"monthly_topup": "-1"}, "monthly_topup", "cannot be negative"),
        ({"horizon_years": "0"}, "horizon_years", "at least 1 year"),
        ({"horizon_years": "31"}, "horizon_years", "at most 30 years"),
        ({"products-0-rate_pct": "101"}, "products-0-rate_pct", "between −50 % and +100 %"),
        ({"products-1-rate_pct": "-50.01"}, "products-1-rate_pct", "between −50 % and +100 %"),
        ({"products-0-name": "   "}, "products-0-name", "Enter the product"),
        ({"products-0-name": "x" * 10_000}, "products-0-name", "under 80 characters"),
        ({"client_label": ""}, "client_label", "Enter a label"),
    ],
)
def test_each_bad_value_gets_a_clear_message_next_to_its_field(manager_client, overrides, field, message):
    response = manager_client.post(reverse("illustrations:create"), form_data(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    block = html.split(f'id="id_{field}_errors"', 1)
    assert len(block) == 2, f"no error list next to {field}"
    assert message in block[1].split("</ul>", 1)[0]
    assert not Illustration.objects.exists()


def test_more_than_six_products_are_refused(manager_client):
    products = [(f"P{i}", "5", "yearly", "low") for i in range(7)]
    response = manager_client.post(reverse("illustrations:create"), form_data(products=products))
    assert response.status_code == 200
    assert "At most 6 products" in response.content.decode()
    assert not Illustration.objects.exists()


def test_at_least_one_product_is_required(manager_client):
    response = manager_client.post(reverse("illustrations:create"), form_data(products=[]))
    assert "Add at least one product" in response.content.decode()
    assert not Illustration.objects.exists()


def test_russian_number_formats_are_accepted(manager_client):
    data = form_data(products=[("Вклад", "12,5", "yearly", "low")], initial_amount="1\u00a0500\u00a0000,50")
    manager_client.post(reverse("illustrations:create"), data)
    ill = Illustration.objects.get()
    assert ill.initial_amount == D("1500000.50") and ill.products.get().rate_pct == D("12.5")


# --------------------------------------------------------------------------- access


def test_a_manager_sees_only_their_own_illustrations(client, manager, other_manager, illustration):
    theirs = make_illustration(other_manager, label="Чужой")
    client.force_login(manager)
    assert client.get(reverse("illustrations:detail", args=[theirs.id])).status_code == 404
    assert client.get(reverse("illustrations:svg", args=[theirs.id])).status_code == 404
    assert client.post(reverse("illustrations:share_create", args=[theirs.id]), {"days": 14}).status_code == 404
    listing = client.get(reverse("illustrations:list")).content.decode()
    assert "Иван" in listing and "Чужой" not in listing


def test_a_supervisor_sees_the_team_but_not_other_teams(client, supervisor, illustration, outsider):
    foreign = make_illustration(outsider, label="Другая команда")
    client.force_login(supervisor)
    assert client.get(reverse("illustrations:detail", args=[illustration.id])).status_code == 200
    assert client.get(reverse("illustrations:detail", args=[foreign.id])).status_code == 404
    listing = client.get(reverse("illustrations:list")).content.decode()
    assert "Иван" in listing and "Другая команда" not in listing


def test_pages_require_login(client, illustration):
    response = client.get(reverse("illustrations:detail", args=[illustration.id]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_revoking_from_the_list_stops_the_link(manager_client, illustration, link):
    url = reverse("illustrations:share_revoke", args=[illustration.id, link.id])
    response = manager_client.post(url, {"next": "list"})
    assert response.status_code == 302 and response["Location"] == reverse("illustrations:list")
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert Client().get(link.get_share_url()).status_code == 410


def test_another_manager_cannot_revoke(client, other_manager, illustration, link):
    client.force_login(other_manager)
    assert client.post(reverse("illustrations:share_revoke", args=[illustration.id, link.id])).status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_a_supervisor_can_neither_create_nor_revoke_share_links(client, supervisor, illustration, link):
    """Supervisors are read-only: a client-facing link is the manager's to issue and to withdraw."""
    client.force_login(supervisor)
    assert client.post(reverse("illustrations:share_create", args=[illustration.id]), {"days": 14}).status_code == 403
    assert client.post(reverse("illustrations:share_revoke", args=[illustration.id, link.id])).status_code == 403
    assert list(ShareLink.objects.all()) == [link]
    link.refresh_from_db()
    assert link.revoked_at is None
    page = client.get(illustration.get_absolute_url()).content.decode()
    assert 'id="ill-share"' not in page and "Revoke" not in page
    assert "Revoke" not in client.get(reverse("illustrations:list")).content.decode()


def test_creating_a_link_defaults_to_fourteen_days(manager_client, illustration):
    manager_client.post(reverse("illustrations:share_create", args=[illustration.id]), {"days": "14"})
    link = ShareLink.objects.get()
    assert (link.expires_at - link.created) == timedelta(days=14)
    page = manager_client.get(illustration.get_absolute_url()).content.decode()
    assert "/illustrations/s/" in page


# --------------------------------------------------------------------------- the client's page


def test_the_share_page_opens_without_login_and_sends_private_headers(link):
    response = Client().get(link.get_share_url())
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert 'id="ill-data"' in html and "<svg" in html
    assert ShareView.objects.filter(link=link).count() == 1


def test_the_share_page_shows_no_personal_data_beyond_the_label(link, manager):
    manager.first_name, manager.last_name, manager.email = "Анна", "Секретова", "anna@bank.example"
    manager.save()
    html = Client().get(link.get_share_url()).content.decode()
    assert "Иван" in html
    for secret in ("Секретова", "anna@bank.example", manager.username, str(link.illustration.id)):
        assert secret not in html


def test_the_data_island_holds_per_year_heights(link):
    html = Client().get(link.get_share_url()).content.decode()
    island = json.loads(html.split('<script id="ill-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert island["years"] == 10 and len(island["frames"]) == 11
    # Year 0 has no gain yet, so no tree; then trees grow to the horizon's gain, in both layouts.
    for key in ("scale", "scale_n"):
        heights = [frame[0][key] for frame in island["frames"]]
        assert heights[0] == 0 < heights[1] < heights[-1]


def test_hostile_label_stays_inert_on_the_share_page(manager):
    ill = make_illustration(manager, label='</script><script>alert(1)</script>"><svg onload=alert(1)>')
    link = ShareLink.issue(ill)
    html = Client().get(link.get_share_url()).content.decode()
    assert "<script>alert(1)" not in html and "<svg onload" not in html
    figure = html.split('<figure class="ill-figure ill-two" id="ill-figure">', 1)[1].split("</figure>", 1)[0]
    wide, narrow = figure.split("</svg>")[:2]
    ET.fromstring(wide + "</svg>")
    ET.fromstring(narrow + "</svg>")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "x" + t,
        lambda t: t.split(":")[0],
        lambda t: "garbage",
        lambda t: "a" * 5000,
        lambda t: signing.dumps({"l": str(uuid.uuid4())}, salt=SHARE_SALT),
        lambda t: signing.dumps({"l": "not-a-uuid"}, salt=SHARE_SALT),
        lambda t: signing.dumps({"nope": 1}, salt=SHARE_SALT),
        lambda t: signing.dumps(["l"], salt=SHARE_SALT),
        lambda t: signing.dumps({"l": t}, salt="another.purpose"),
    ],
)
def test_tampered_tokens_get_404_never_500(link, mangle):
    token = mangle(link.token)
    c = Client()
    for name in ("share", "share_svg", "share_pdf"):
        response = c.get(reverse(f"illustrations:{name}", args=[token]))
        assert response.status_code == 404
        assert response["Referrer-Policy"] == "no-referrer"


def test_a_token_for_another_purpose_is_not_accepted(link):
    forged = signing.dumps({"l": str(link.id)}, salt="reports.share")
    assert Client().get(reverse("illustrations:share", args=[forged])).status_code == 404


def test_expired_links_get_410(link):
    url = link.get_share_url()
    with time_machine.travel(timezone.now() + timedelta(days=13, hours=23)):
        assert Client().get(url).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=14, minutes=1)):
        response = Client().get(url)
        assert response.status_code == 410
        assert response["Cache-Control"] == "no-store"


def test_revoked_links_get_410_everywhere(link):
    url = link.get_share_url()
    token = url.rstrip("/").rsplit("/", 1)[1]
    link.revoke()
    c = Client()
    assert c.get(url).status_code == 410
    assert c.get(reverse("illustrations:share_svg", args=[token])).status_code == 410
    assert c.get(reverse("illustrations:share_pdf", args=[token])).status_code == 410


def test_downloads_from_the_share_page(link):
    token = link.get_share_url().rstrip("/").rsplit("/", 1)[1]
    svg = Client().get(reverse("illustrations:share_svg", args=[token]))
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    ET.fromstring(svg.content)
    assert "default-src 'none'" in svg["Content-Security-Policy"]
    pdf = Client().get(reverse("illustrations:share_pdf", args=[token]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf["Referrer-Policy"] == "no-referrer"


def test_staff_downloads(manager_client, illustration):
    svg = manager_client.get(reverse("illustrations:svg", args=[illustration.id]))
    assert svg.status_code == 200
    ET.fromstring(svg.content)
    pdf = manager_client.get(reverse("illustrations:pdf", args=[illustration.id]))
    assert pdf.content.startswith(b"%PDF-")


# --------------------------------------------------------------------------- pilot events


def _open(link) -> tuple[Client, str, str]:
    c = Client(enforce_csrf_checks=True)
    html = c.get(link.get_share_url()).content.decode()
    island = json.loads(html.split('<script id="ill-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    csrf = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    return c, island, csrf


def _post(c, island, csrf, **body):
    payload = {"view": island["view"], **body}
    return c.post(
        island["eventUrl"], json.dumps(payload), content_type="application/json", headers={"X-CSRFToken": csrf}
    )


def test_events_are_recorded_with_the_page_csrf_token(link):
    c, island, csrf = _open(link)
    assert _post(c, island, csrf, kind="slider").status_code == 200
    assert _post(c, island, csrf, kind="details").status_code == 200
    assert _post(c, island, csrf, kind="understood").status_code == 200
    assert _post(c, island, csrf, kind="rating", rating=5).status_code == 200
    view = ShareView.objects.get(pk=island["view"])
    assert view.slider_at and view.details_at and view.understood_at and view.rating == 5


def test_events_without_the_csrf_token_are_refused(link):
    c, island, _csrf = _open(link)
    response = c.post(
        island["eventUrl"], json.dumps({"view": island["view"], "kind": "slider"}), content_type="application/json"
    )
    assert response.status_code == 403
    assert ShareView.objects.get(pk=island["view"]).slider_at is None


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "rating", "rating": 6},
        {"kind": "rating", "rating": 0},
        {"kind": "rating"},
        {"kind": "hack"},
        {"kind": "rating", "rating": "x"},
    ],
)
def test_bad_events_get_400(link, body):
    c, island, csrf = _open(link)
    assert _post(c, island, csrf, **body).status_code == 400
    assert ShareView.objects.get(pk=island["view"]).rating is None


def test_a_view_of_another_link_cannot_be_touched(link, illustration):
    c, island, csrf = _open(link)
    other = ShareLink.issue(illustration)
    other_view = ShareView.objects.create(link=other)
    response = c.post(
        island["eventUrl"],
        json.dumps({"view": str(other_view.id), "kind": "rating", "rating": 1}),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 404
    other_view.refresh_from_db()
    assert other_view.rating is None


def test_events_on_a_revoked_link_get_410(link):
    c, island, csrf = _open(link)
    link.revoke()
    assert _post(c, island, csrf, kind="slider").status_code == 410


def test_the_pilot_page_measures_against_targets(client, supervisor, illustration):
    now = timezone.now()
    a, b = ShareLink.issue(illustration), ShareLink.issue(illustration)
    ShareLink.issue(illustration)  # never opened: counts as a link, not as an opening
    ShareView.objects.create(
        link=a, opened_at=now - timedelta(seconds=90), understood_at=now, slider_at=now, rating=5, rated_at=now
    )
    ShareView.objects.create(link=b, opened_at=now - timedelta(seconds=200), understood_at=now, rating=4, rated_at=now)
    # The latest rating of a link counts; an old one is replaced.
    ShareView.objects.create(link=b, opened_at=now - timedelta(days=1), rating=1, rated_at=now - timedelta(days=1))
    client.force_login(supervisor)
    response = client.get(reverse("illustrations:pilot"))
    summary = response.context["summary"]
    assert summary["links"] == 3 and summary["opened"] == 2
    assert summary["clarity_mean"] == 4.5
    assert summary["engagement_pct"] == 50.0
    assert summary["understand_median_s"] == pytest.approx(145.0, abs=0.2)
    chart = ET.fromstring(response.context["chart"])
    classes = [el.get("class") for el in chart.iter() if el.get("class")]
    assert classes.count("pilot-target") == 3
    assert "pilot-bar pilot-met" in classes and "pilot-bar pilot-missed" in classes


def test_the_pilot_page_is_scoped_to_visible_managers(client, outsider, link):
    ShareView.objects.create(link=link, rating=5, rated_at=timezone.now())
    client.force_login(outsider)
    summary = client.get(reverse("illustrations:pilot")).context["summary"]
    assert summary["links"] == 0 and summary["clarity_mean"] is None
