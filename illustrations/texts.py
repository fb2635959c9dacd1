"""Translated strings for the picture (trees.py stays free of Django; this module feeds it)."""

from __future__ import annotations

from django.utils.translation import get_language, gettext, ngettext

from illustrations.models import Illustration
from illustrations.trees import IllustrationInput, Scene, Texts, build_scene


def current_locale() -> str:
    return "ru" if (get_language() or "ru").startswith("ru") else "en"


def translated_texts(years: int) -> Texts:
    return Texts(
        title=gettext("{client}: how savings can grow in {years}"),
        subtitle=gettext("Initial amount {initial}"),
        subtitle_topup=gettext("Initial amount {initial} plus {monthly} every month"),
        height_caption=gettext("Tree height: gain over {years}. On the crown: the rate a year."),
        gold_caption=gettext("gold at the roots: the initial amount, the same for every product"),
        legend_title=gettext("Risk:"),
        risk_labels={"low": gettext("low"), "medium": gettext("medium"), "high": gettext("high")},
        compounding_labels={
            "yearly": gettext("yearly"),
            "monthly": gettext("monthly"),
            "simple": gettext("simple interest"),
        },
        rate_line=gettext("{rate} a year · {compounding}"),
        rate_line_short=gettext("{rate} · {compounding}"),
        footnote=(
            gettext(
                "Assumptions: rates stay constant for the whole period; top-ups arrive at the end of each month; "
                "no taxes, fees or inflation."
            ),
            gettext("An illustration, not an offer: returns are not guaranteed and the value of investments can fall."),
        ),
        desc_intro=gettext("Projection over {years} for {initial}{topup}."),
        desc_topup=gettext(" plus {monthly} a month"),
        desc_item=gettext("{name}: {rate} a year, {value} ({gain_pct}, {gain})"),
        tree_title=gettext("{name}: {rate} a year; {value} after {years}; gain {gain_pct}, {gain}"),
        years_text=tuple(ngettext("%(n)d year", "%(n)d years", n) % {"n": n} for n in range(years + 1)),
    )


def scene_for(illustration: Illustration) -> Scene:
    data: IllustrationInput = illustration.as_input(locale=current_locale())
    return build_scene(data, translated_texts(data.years))
