"""newsclean.segmentation: HTML or text → ordered blocks with their page facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsclean.segmentation import (
    Block,
    looks_like_html,
    parse_html,
    segment,
    segment_html,
    segment_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
CORPORA_FIXTURES = FIXTURES / "corpora"
NEWS_PAGE = (FIXTURES / "pages" / "news_page.html").read_text(encoding="utf-8")
BROKEN_PAGE = (FIXTURES / "pages" / "broken_page.html").read_text(encoding="utf-8")
L3S_PAGE = (
    CORPORA_FIXTURES / "l3s-gn1" / "annotated" / "3f2c9a10-7b1e-4c55-9d2a-0a1b2c3d4e5f.html"
).read_text(encoding="utf-8")

NEWS_PAGE_TEXTS = [
    "Home",
    "World",
    "Business",
    "Sport",
    "Weather Travel Food and drink",
    "Harbour bridge in Tessaro reopens after two-year repair",
    "Engineers replaced 140 steel cables on the 1930s crossing, which carries 30,000 vehicles"
    " a day.",
    "The Tessaro harbour bridge reopened to traffic on Monday morning, three weeks ahead of"
    " schedule, after a repair that city officials said cost 84 million crowns. Transport"
    " minister Ilse Varga cut the ribbon shortly after seven.",
    "Commuters had faced detours of up to forty minutes since the crossing closed. Ferry"
    " operators added extra sailings during the closure.",
    "Line one of the timetable",
    "Line two of the timetable",
    "Photo: R. Dalca/Portside Images The bridge at dawn.",
    "© 2024 The Tessaro Tribune. All rights reserved.",
]


@pytest.fixture(scope="module")
def news_blocks() -> list[Block]:
    return segment_html(NEWS_PAGE)


def _block(blocks: list[Block], start: str) -> Block:
    matches = [b for b in blocks if b.text.startswith(start)]
    assert len(matches) == 1, f"expected one block starting {start!r}, got {matches}"
    return matches[0]


def test_blocks_in_document_order(news_blocks):
    assert [b.text for b in news_blocks] == NEWS_PAGE_TEXTS


@pytest.mark.parametrize(
    "hidden",
    [
        "script",  # <script> in head and body
        "styleText",
        "font-family",  # <style>
        "Noscript text",
        "Hidden attribute text",
        "Screen reader hidden text",  # aria-hidden="true"
        "Display none text",  # style="display : none"
        "Visibility hidden text",
        "Annotator invisible text",  # class="x-nc-invisible"
        "Harbour bridge reopens | The Tessaro Tribune",  # <title> lives in <head>
    ],
)
def test_scripts_styles_and_hidden_nodes_are_dropped(news_blocks, hidden):
    assert not any(hidden in b.text for b in news_blocks)


def test_a_react_streamed_part_is_shown_as_a_browser_shows_it():
    """React's streamed server rendering sends the article in ``<div hidden id="S:0">``, and
    its script moves it into place; a plain ``hidden`` element stays dropped."""
    page = (
        "<html><body><main><template id='B:0'></template><p>Loading</p></main>"
        "<div hidden id='S:0'><p>The harbour wall was finished on Tuesday.</p></div>"
        "<div hidden id='menu'><p>Hidden menu</p></div></body></html>"
    )
    texts = [b.text for b in segment_html(page)]
    assert texts == ["Loading", "The harbour wall was finished on Tuesday."]


def test_text_after_a_dropped_element_is_kept(news_blocks):
    block = _block(news_blocks, "Commuters")
    assert "closed. Ferry operators" in block.text
    assert "track" not in block.text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p><span hidden>x</span>Visible text</p>", "Visible text"),
        ("<p>Before <script>var a;</script>after</p>", "Before after"),
        ("<p>One <b>two</b><span style='display:none'>no</span> three</p>", "One two three"),
        ("<p>Joined<!-- a comment -->words</p>", "Joinedwords"),
    ],
)
def test_tail_text_of_dropped_elements(html, expected):
    assert [b.text for b in segment_html(html)] == [expected]


def test_link_density(news_blocks):
    for name in ("Home", "World", "Business", "Sport", "Weather Travel"):
        assert _block(news_blocks, name).link_density == pytest.approx(1.0)
    assert _block(news_blocks, "Engineers replaced").link_density == 0.0
    assert _block(news_blocks, "Commuters").link_density == 0.0
    partial = _block(news_blocks, "The Tessaro harbour").link_density
    assert 0.0 < partial < 0.1  # one linked word in a long paragraph


def test_tags_and_depth(news_blocks):
    assert _block(news_blocks, "Home").tag == "li"
    assert _block(news_blocks, "Harbour bridge").tag == "h1"
    assert _block(news_blocks, "Engineers").tag == "p"
    assert _block(news_blocks, "Photo:").tag == "figcaption"
    assert _block(news_blocks, "Weather Travel").tag == "div"
    # html 1 > body 2 > main 3 > article 4 > h1 5 > (figure 5 >) figcaption 6
    assert _block(news_blocks, "Harbour bridge").dom_depth == 5
    assert _block(news_blocks, "Photo:").dom_depth == 6
    # html > body > footer > p
    assert _block(news_blocks, "©").dom_depth == 4
    # html > body > nav > ul > li
    assert _block(news_blocks, "Home").dom_depth == 5


def test_simple_depths():
    (block,) = segment_html("<html><body><p>Only paragraph</p></body></html>")
    assert (block.tag, block.dom_depth, block.link_density, block.css_tokens) == (
        "p",
        3,
        0.0,
        "",
    )


def test_css_tokens_from_class_and_id(news_blocks):
    headline = _block(news_blocks, "Harbour bridge").css_tokens.split()
    assert headline[0] == "headline"  # own class first
    assert {"story", "body"} <= set(headline)  # then the enclosing block's tokens
    assert set(_block(news_blocks, "Home").css_tokens.split()) == {"site", "nav", "top"}
    assert "footer" in _block(news_blocks, "©").css_tokens.split()


def test_css_tokens_are_lowercase_words_and_capped():
    html = (
        '<div class="A-B c_d e1f" id="MainColumn"><p class="one two three four five six'
        ' seven eight">Text</p></div>'
    )
    (block,) = segment_html(html)
    tokens = block.css_tokens.split()
    assert tokens[:6] == ["one", "two", "three", "four", "five", "six"]  # own: at most 6
    assert tokens[6:] == ["a", "b", "c"]  # the parent's first 3
    assert all(t.isalpha() and t.islower() for t in tokens)


def test_css_tokens_leave_out_annotation_classes():
    blocks = segment_html(L3S_PAGE, label_class_prefix="x-nc-sel", default_label="x-nc-sel0")
    assert blocks
    for block in blocks:
        assert not {"x", "nc", "sel", "invisible"} & set(block.css_tokens.split())
    assert _block(blocks, "Front page").css_tokens == "top bar masthead"


def test_br_splits_a_block(news_blocks):
    lines = [b for b in news_blocks if b.text.startswith("Line ")]
    assert [b.text for b in lines] == ["Line one of the timetable", "Line two of the timetable"]
    assert {b.tag for b in lines} == {"p"}


def test_br_in_body():
    texts = [b.text for b in segment_html("<body>alpha<br>beta<br/>gamma</body>")]
    assert texts == ["alpha", "beta", "gamma"]


def test_broken_markup_still_yields_the_paragraphs():
    texts = [b.text for b in segment_html(BROKEN_PAGE)]
    starts = ["First paragraph", "Second paragraph", "Third paragraph", "Fourth", "Fifth"]
    positions = [next(i for i, t in enumerate(texts) if t.startswith(s)) for s in starts]
    assert positions == sorted(positions)
    assert "Second paragraph with bold words that never close" in texts


@pytest.mark.parametrize(
    "document",
    ["", "   \n\t  ", b"", b"  \n", "\x00\x00", "<!-- only a comment -->", "<html></html>"],
)
def test_empty_input_gives_no_blocks(document):
    assert segment_html(document) == []


def test_parse_html_of_nothing_is_none():
    assert parse_html("") is None
    assert parse_html(b"   ") is None


def test_bytes_input_in_cp1252(cp1252_page):
    texts = [b.text for b in segment_html(cp1252_page)]
    assert texts == [
        "Café owners “welcome” the new €2 coffee levy",
        "Owners of the Kestrel Café in Brindle said the levy was “fair enough” — but naïve about"
        " costs.",
    ]


def test_control_characters_do_not_crash():
    html = "<html><body><p>Hello\x00 wor\x07ld\x0b!</p><p>Second \x1f para\ufffe</p></body></html>"
    assert [b.text for b in segment_html(html)] == ["Hello world!", "Second para"]
    assert [b.text for b in segment_html(html.encode())] == ["Hello world!", "Second para"]


def test_xml_declaration_and_text_wrapper_are_accepted():
    declared = "<?xml version='1.0' encoding='utf-8'?><html><body><p>Declared</p></body></html>"
    assert [b.text for b in segment_html(declared)] == ["Declared"]
    wrapped = '<text id="u" title="t" encoding="utf-8">\n<html><body><p>Wrapped</p></body></html>'
    assert [b.text for b in segment_html(wrapped)] == ["Wrapped"]


def test_entities_are_decoded():
    assert [b.text for b in segment_html("<p>Fish &amp; chips &copy; 2024</p>")] == [
        "Fish & chips © 2024"
    ]


def test_label_chars_innermost_span_wins():
    html = (
        '<p><span class="x-nc-sel2">Read: <span class="x-nc-sel4">Other story</span></span>'
        " tail</p>"
    )
    (block,) = segment_html(html, label_class_prefix="x-nc-sel")
    assert block.text == "Read: Other story tail"
    assert block.label_chars == {"x-nc-sel2": 5, "x-nc-sel4": 11, "": 4}


def test_label_chars_default_label_and_no_prefix():
    html = '<div><p>Unmarked text</p><p class="x-nc-sel3">Caption text</p></div>'
    blocks = segment_html(html, label_class_prefix="x-nc-sel", default_label="x-nc-sel0")
    assert [b.label_chars for b in blocks] == [{"x-nc-sel0": 13}, {"x-nc-sel3": 12}]
    assert all(b.label_chars == {} for b in segment_html(html))


def test_label_chars_on_the_l3s_fixture():
    blocks = segment_html(L3S_PAGE, label_class_prefix="x-nc-sel", default_label="x-nc-sel0")
    by_start = {b.text.split()[0] + " " + b.text.split()[1]: b.label_chars for b in blocks}
    assert by_start["Front page"] == {"x-nc-sel0": 27}
    assert set(by_start["Riverton council"]) == {"x-nc-sel1"}
    assert set(by_start["By Mara"]) == {"x-nc-sel3"}
    # A sel3 picture credit nested in a sel2 paragraph: both counted, sel2 is the majority.
    opponents = by_start["Opponents argued"]
    assert opponents["x-nc-sel3"] == len("(Picture: council handout)")
    assert opponents["x-nc-sel2"] > opponents["x-nc-sel3"]
    # A sel4 link nested in a sel2 span: its characters count for sel4, not sel2.
    see_also = by_start["See also:"]
    assert see_also["x-nc-sel2"] == len("See also:")
    assert see_also["x-nc-sel4"] > see_also["x-nc-sel2"]
    assert set(by_start["Greta P."]) == {"x-nc-sel5"}
    assert not any("Invisible" in b.text or "adSlot" in b.text for b in blocks)


def test_segment_text_skips_blank_lines():
    blocks = segment_text("one\n\n  \n two  words \r\nthree\u00a0four\n")
    assert [b.text for b in blocks] == ["one", "two words", "three four"]
    assert all(b.tag is None and b.link_density is None and b.dom_depth is None for b in blocks)
    assert segment_text("") == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("<!DOCTYPE html><html><body></body></html>", True),
        ("  \n<html lang='en'>", True),
        ("<?xml version='1.0'?><html/>", True),
        ("<head><title>x</title></head>", True),
        ("<p>Just a paragraph</p>", True),
        ("Some text then <div>a div</div>", True),
        ("<ARTICLE>shouting</ARTICLE>", True),
        ("Plain text with <b>bold</b> only", False),
        ("a < b and c > d", False),
        ("", False),
    ],
)
def test_looks_like_html(document, expected):
    assert looks_like_html(document) is expected


def test_segment_guesses_the_input_type(cp1252_page):
    assert [b.text for b in segment("plain line\n\nsecond line")] == ["plain line", "second line"]
    assert [b.tag for b in segment("<p>para</p>")] == ["p"]
    assert segment("<p>not parsed</p>", is_html=False)[0].text == "<p>not parsed</p>"
    assert segment(cp1252_page)[0].text.startswith("Café owners")
    assert segment("a < b", is_html=None)[0].text == "a < b"


def test_container_features_mark_the_main_text(news_blocks):
    """The article's paragraphs sit in the page's main container; navigation and the footer
    do not, and the navigation's parents hold none of the article-like text."""
    body = _block(news_blocks, "The Tessaro harbour bridge reopened")
    nav = _block(news_blocks, "Home")
    footer = _block(news_blocks, "© 2024 The Tessaro Tribune")
    assert body.in_main_container == 1.0
    assert body.container_share > 0.5
    assert nav.in_main_container == 0.0
    assert nav.container_share == 0.0
    assert footer.in_main_container == 0.0
    # The article's paragraphs share one parent; the navigation items share another.
    assert body.parent_id == _block(news_blocks, "Commuters had faced").parent_id
    assert nav.parent_id == _block(news_blocks, "World").parent_id != body.parent_id


def test_container_features_without_article_text():
    blocks = segment_html("<html><body><ul><li><a href='/'>Home</a></li></ul></body></html>")
    assert [(b.container_share, b.in_main_container) for b in blocks] == [(0.0, 0.0)]
    assert segment_text("One line.")[0].container_share is None


@pytest.mark.parametrize("page", [NEWS_PAGE, BROKEN_PAGE, L3S_PAGE])
def test_plain_parser_gives_the_same_tree(page):
    from lxml import etree

    fast, full = parse_html(page, plain=True), parse_html(page)
    assert etree.tostring(fast) == etree.tostring(full)
    assert not hasattr(fast, "text_content")  # plain lxml elements, no lxml.html lookup


@pytest.mark.parametrize("document", ["", "   ", b"", "\x00\x01"])
def test_plain_parser_on_empty_documents(document):
    assert parse_html(document, plain=True) is None
