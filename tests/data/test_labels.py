"""The label rules: which blocks the product's definition makes boilerplate, and what they leave."""

import pandas as pd
import pytest

from newsclean.data.labels import apply_label_rules
from newsclean.data.sources.base import BuildLog
from newsclean.kindrules import is_byline, is_credit, is_timestamp, rule_for

TIMESTAMPS = [
    "Published at 9:40 a.m.",
    "2 days ago",
    "Thursday, January 17th, 2008",
    "Last updated at 13:44pm on 07.01.08",
    "Posted January 2, 2008 10:34:00",
    "Updated: 12:04 GMT",
    "Published on 14/01/2008",
    "March 3, 2026 · 7:17 PM",
]
BYLINES = [
    "By Anne Gearan, Associated Press Writer",
    "By KWAME ASANTE",
    "Jan 14 2008 by Andy Howell, Western Mail",
    "by Tim Cashmere - January 16 2008",
    "By: Alex Smart",
    "By The Associated Press",
    "Written by Lena Marsh",
]
CREDITS = [
    "Photo: Reuters/Jane Smith Firefighters battle the blaze near the harbour",
    "Photo credit: K. Alvarez/Northline Images",
    "(Credit: Harbour Gazette)",
    "Image: Northline Images",
]
# Blocks that look close to a rule but are the article's own text or something else.
NOT_MATCHED = [
    "Bynum injured as Lakers squeak by Grizzlies",
    "By Monday the flood had receded.",
    "By then it was too late.",
    "By far the best season the club has had, the coach said on Sunday.",
    "by 2010 the plan had failed",
    "2012",
    "0.30",
    "21 1.928 0.914 22 1.921 0.810",
    "(213) 740-4201",
    "1. Saint John",
    "West Indies 408 & 175; South Africa 195 & 260",
    "The fire was contained by 9:40 a.m. on Monday, officials said.",
    "Photographers gathered outside the court on Tuesday.",
    "Shot by police after a chase, the suspect was taken to hospital.",
    "",
]


@pytest.mark.parametrize(
    ("text", "check", "rule"),
    [(t, is_timestamp, "timestamp") for t in TIMESTAMPS]
    + [(t, is_byline, "byline") for t in BYLINES]
    + [(t, is_credit, "credit") for t in CREDITS],
)
def test_bylines_timestamps_and_credits_are_found(text, check, rule):
    assert check(text)
    assert rule_for(text) == rule


@pytest.mark.parametrize("text", NOT_MATCHED)
def test_text_that_only_resembles_a_byline_or_date_is_left_alone(text):
    assert rule_for(text) is None


def test_whitespace_does_not_change_a_decision():
    assert rule_for("  By   Anne\tGearan \n") == rule_for("By Anne Gearan") == "byline"


def test_a_long_paragraph_is_never_relabelled():
    text = "By Anne Gearan. " + "Officials said the talks would resume next week. " * 20
    assert rule_for(text) is None


def test_apply_label_rules_relabels_counts_and_keeps_the_rest():
    frame = pd.DataFrame(
        {
            "source": ["cleaneval", "cleaneval", "dragnet", "dragnet", "wcxb"],
            "text": [
                "By Anne Gearan",
                "Officials said the fire was contained on Monday.",
                "January 16, 2008",
                "Photo: Northline Images",
                "Updated 2 days ago",
            ],
            "kind": ["news", "news", None, "boilerplate", "teaser"],
            "is_news": [True, True, False, False, False],
            "topic": ["world", "world", None, None, "sports"],
        }
    )
    log = BuildLog()
    out = apply_label_rules(frame, log)
    assert out["kind"].tolist() == [
        "boilerplate",
        "news",
        "boilerplate",
        "boilerplate",
        "boilerplate",
    ]
    assert out["is_news"].tolist() == [False, True, False, False, False]
    assert out["topic"].isna().tolist() == [True, False, True, True, True]
    assert log.notes["label_rules.changed"] == 3  # the one already boilerplate is not counted
    assert log.notes["label_rules.cleaneval.byline.news"] == 1
    assert log.notes["label_rules.dragnet.timestamp.unknown"] == 1
    assert log.notes["label_rules.wcxb.timestamp.teaser"] == 1
    assert frame["kind"].tolist()[0] == "news"  # the input frame is not modified


def test_apply_label_rules_without_matches_notes_zero():
    frame = pd.DataFrame(
        {"source": ["x"], "text": ["A plain sentence."], "kind": ["news"], "is_news": [True]}
    )
    log = BuildLog()
    assert apply_label_rules(frame, log)["kind"].tolist() == ["news"]
    assert log.notes["label_rules.changed"] == 0
