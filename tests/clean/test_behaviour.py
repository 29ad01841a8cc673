"""Behaviour of the cleaner on text input, in the manner of Made-With-ML's model tests:
minimum functionality, invariance and directional expectations, on articles written for
these tests. In CI they judge the sample-trained cleaner; `make test-behaviour` runs them on
the registered champion (``--cleaner-uri``)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BEHAVIOUR = Path(__file__).parents[1] / "fixtures" / "behaviour"
TYPICAL = (BEHAVIOUR / "typical_article.txt").read_text(encoding="utf-8")
PROMO = "Claim a 150% welcome bonus up to £500!"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_typical_article_keeps_the_body_and_drops_everything_else(behaviour_cleaner):
    article = behaviour_cleaner.clean(TYPICAL)
    lines = _lines(TYPICAL)
    assert [p.original for p in article.paragraphs] == lines
    kept = {p.original for p in article.paragraphs if p.kept}
    assert kept == set(lines[2:7]), "exactly the five body paragraphs are kept"
    caption, published, *_ = article.paragraphs
    assert caption.kind == "boilerplate" and published.kind == "boilerplate"
    for teaser in article.paragraphs[7:]:
        assert not teaser.kept and teaser.kind in {"teaser", "boilerplate"}


def test_typical_article_glued_promo_is_stripped_and_reported_as_spam(behaviour_cleaner):
    article = behaviour_cleaner.clean(TYPICAL)
    glued = next(p for p in article.paragraphs if p.original.startswith(PROMO))
    assert glued.kept and glued.kind == "news"
    assert glued.text.startswith("Officials said about 340 properties")
    assert [(s.kind, s.where, s.text) for s in glued.removed_spans] == [("spam", "start", PROMO)]
    assert PROMO not in article.text


SHORT_ARTICLES = [
    (
        "By Tomas Reyes, Staff Writer\n"
        "Published at 9:40 a.m.\n"
        "The town council in Brackenfield approved a new bus route to the hospital on Tuesday, "
        "after two years of complaints from patients and staff.\n"
        "The first buses will run in April, every twenty minutes on weekdays, the council said.",
        2,
    ),
    (
        "Published at 7:15 p.m.\n"
        "Fire crews spent most of Saturday night bringing a barn fire near Oakhurst under "
        "control, the county fire service said.\n"
        "No one was hurt, but about forty bales of hay were lost.",
        1,
    ),
    (
        "The library in Wendle Cross will open on Sundays from next month, the borough said on "
        "Friday, after volunteers offered to staff the front desk.\n"
        "By Aisha Karim\n"
        "Updated 14:05 GMT",
        0,
    ),
]


@pytest.mark.parametrize(("text", "body_from"), SHORT_ARTICLES)
def test_short_articles_drop_bylines_and_timestamps(behaviour_cleaner, text, body_from):
    """Minimum functionality: two or three paragraphs give the model little context; the
    byline and the "Published at" line still go, and the body stays."""
    article = behaviour_cleaner.clean(text)
    for number, paragraph in enumerate(article.paragraphs):
        is_body = paragraph.original.endswith((".", "said.")) and len(paragraph.original) > 50
        assert paragraph.kept == is_body, (number, paragraph.original, paragraph.kind)


def test_body_decisions_do_not_depend_on_which_stories_are_teased(behaviour_cleaner):
    """Invariance: other teasers at the bottom leave the body's decisions unchanged."""
    other = TYPICAL.replace("Local bakery wins national sourdough award", "Ferry fares rise")
    other = other.replace("New cycle path links two villages", "Choir tours the coast")
    first, second = behaviour_cleaner.clean_many([TYPICAL, other])
    assert [p.kept for p in first.paragraphs[:7]] == [p.kept for p in second.paragraphs[:7]]
    assert first.text == second.text


def test_menu_lines_around_the_article_are_dropped_and_change_nothing_else(behaviour_cleaner):
    """Invariance of the body, directional for the page: a whole page as text (menus on top,
    a cookie prompt at the bottom) gives the same article."""
    menu = "Home\nNews\nSport\nWeather\nBusiness\nSign in\n"
    footer = "\nWe use cookies to improve your experience. Accept all\nContact us\nPrivacy policy"
    page = behaviour_cleaner.clean(menu + TYPICAL + footer)
    plain = behaviour_cleaner.clean(TYPICAL)
    assert page.text == plain.text
    assert not any(p.kept for p in page.paragraphs[:6] + page.paragraphs[-3:])


def test_a_promo_glued_on_only_costs_the_promo(behaviour_cleaner):
    """Directional: gluing a promo onto a body paragraph removes the promo, not the body."""
    clean = TYPICAL.replace(PROMO, "")
    assert behaviour_cleaner.clean(clean).text == behaviour_cleaner.clean(TYPICAL).text
