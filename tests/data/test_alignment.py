"""newsclean.data.alignment: labelling blocks by token 3-gram overlap with a gold text."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsclean.data.alignment import GoldIndex, align

GOLD = (Path(__file__).parents[1] / "fixtures" / "gold" / "storm.txt").read_text(encoding="utf-8")
BODY = (
    "Residents were told to share cars and avoid the pass road until Friday, when engineers"
    " will inspect the rock face above the tunnel."
)


@pytest.fixture(scope="module")
def index() -> GoldIndex:
    return GoldIndex.from_text(GOLD)


def test_gold_index_lines_are_normalised(index):
    assert "local weather" in index.lines
    assert "storm closes harrow mountain pass for a second day" in index.lines
    assert "" not in index.lines


def test_long_block_fully_in_gold(index):
    assert index.score(BODY) == 1.0
    assert align([BODY], GOLD, 0.5) == [(1.0, True)]


def test_case_punctuation_and_spacing_do_not_matter(index):
    assert index.score("  RESIDENTS were told -- to share cars; and avoid the PASS road  ") == 1.0


def test_block_spanning_two_gold_lines_still_matches(index):
    # Gold 3-grams run across line ends (the gold text is tokenised as a whole).
    assert index.score("second day Residents were told") == 1.0


def test_unrelated_block(index):
    text = "Subscribe to our newsletter for the best deals on garden furniture"
    assert index.score(text) == 0.0
    assert align([text], GOLD, 0.5) == [(0.0, False)]


def test_partial_overlap_around_the_threshold():
    gold = "The council approved the tram line after a long debate."
    half = "the council approved the budget yesterday"  # 2 of its 4 3-grams are gold
    quarter = "the council approved a new budget"  # 1 of 4
    most = "the council approved the tram plan today"  # 3 of 5
    assert align([half, quarter, most], gold, 0.5) == [
        (0.5, True),  # the threshold itself counts as a match
        (0.25, False),
        (0.6, True),
    ]
    assert align([half], gold, 0.51) == [(0.5, False)]


def test_scores_are_rounded():
    gold = "alpha beta gamma"
    (result,) = align(["alpha beta gamma delta epsilon"], gold, 0.3)
    assert result == (0.3333, True)


@pytest.mark.parametrize("word", ["Share", "share", "Storm", "Friday", "the tunnel"])
def test_short_block_inside_a_gold_sentence_does_not_match(index, word):
    assert index.score(word) == 0.0


@pytest.mark.parametrize("heading", ["Local weather", "LOCAL WEATHER!", " local   weather "])
def test_short_block_equal_to_a_whole_gold_line_matches(index, heading):
    assert index.score(heading) == 1.0


def test_short_gold_text():
    assert align(["Print", "Breaking"], "Breaking", 0.5) == [(0.0, False), (1.0, True)]


@pytest.mark.parametrize("text", ["", "   ", "— * —", "..."])
def test_block_without_words_scores_zero(index, text):
    assert index.score(text) == 0.0


def test_empty_gold_matches_nothing():
    assert align(["Some long block of article text", "Home"], "", 0.5) == [
        (0.0, False),
        (0.0, False),
    ]


def test_align_keeps_block_order():
    results = align(["unrelated words entirely here", BODY, "Local weather"], GOLD, 0.5)
    assert [matched for _, matched in results] == [False, True, True]
