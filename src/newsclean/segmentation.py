"""HTML or plain text → ordered paragraphs (blocks), the one step used in training and cleaning.

A block is the text of one block-level element (its inline descendants included). Scripts,
styles and hidden nodes are dropped. Each HTML block keeps facts a classifier can use: the tag
that holds it, link density, DOM depth, class/id tokens, and where it sits relative to the
page's main text (``container_share``, ``in_main_container``: the container that holds most
article-like text is the strongest page-level cue a block classifier can get). Parsing goes
through lxml, which repairs broken markup; a page that cannot be parsed at all yields no
blocks, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree, html

from newsclean.text import clean_whitespace, decode_bytes

BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "ul",
        "br",
        "option",
        "select",
        "textarea",
        "label",
        "button",
        "legend",
    ]
)
DROP_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "head",
        "canvas",
        "video",
        "audio",
        "input",
        "map",
        "area",
        "link",
        "meta",
    ]
)
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# React's streamed server rendering (Next.js and others) sends late parts of a page as
# ``<div hidden id="S:0">…</div>`` at the end of the body, and an inline script moves them into
# place: a browser shows them. On some modern pages the whole article arrives that way. They
# are kept where the source has them (at the end of the body), not moved.
_REACT_STREAMED_RE = re.compile(r"S:\d+")
_TOKEN_RE = re.compile(r"[a-z]+")
_MAX_CSS_TOKENS = 12
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TEXT_WRAPPER_RE = re.compile(r"^\s*<text\b[^>]*>", re.IGNORECASE)
# A block counts as article-like text for the container features when it has this many words
# and less than half of its characters in links.
ARTICLE_LIKE_WORDS = 8
# The block fields set by ``_add_container_features``: the one list the dataset, the model
# input and the cleaner take them from.
CONTAINER_FIELDS = ("container_share", "in_main_container", "parent_id", "grandparent_id")
# The paragraph table's columns that come from the page's HTML (empty for text input): the
# numeric ones, in the order the kind model's features read them, then all of them.
HTML_NUMBERS = ("link_density", "dom_depth", *CONTAINER_FIELDS)
HTML_COLUMNS = ("html_tag", "css_tokens", *HTML_NUMBERS)


@dataclass
class Block:
    """One paragraph of a page. HTML fields are None for text input."""

    text: str
    tag: str | None = None
    link_density: float | None = None
    dom_depth: int | None = None
    css_tokens: str | None = None
    # Share of the page's article-like text (see ``ARTICLE_LIKE_WORDS``) inside the block's
    # parent or grandparent element, whichever holds more; 1.0 in a flat page.
    container_share: float | None = None
    # 1.0 when the block lies inside the page's main container (the element whose child
    # blocks, and half of its grandchildren, hold the most article-like text), else 0.0.
    in_main_container: float | None = None
    # Document-order numbers of the block's parent and grandparent elements: blocks with the
    # same number share that container (the article body, a list of links, a comment thread),
    # so a model can pool evidence over them.
    parent_id: int | None = None
    grandparent_id: int | None = None
    # Characters per label class, for annotated corpora (e.g. L3S's x-nc-selN spans).
    label_chars: dict[str, int] = field(default_factory=dict)

    def columns(self) -> dict[str, object]:
        """The block's HTML facts under the paragraph table's column names
        (``HTML_COLUMNS``): the one mapping from blocks to table rows, in the dataset build,
        the cleaner and the glued-junk documents."""
        return {
            "html_tag": self.tag,
            "link_density": self.link_density,
            "dom_depth": self.dom_depth,
            "css_tokens": self.css_tokens,
            **{name: getattr(self, name) for name in CONTAINER_FIELDS},
        }

    @classmethod
    def from_columns(cls, text: str, columns: dict[str, object]) -> Block:
        """A block back from a paragraph table row's HTML columns (missing ones are None)."""
        get = columns.get
        return cls(
            text=text,
            tag=get("html_tag"),
            link_density=get("link_density"),
            dom_depth=get("dom_depth"),
            css_tokens=get("css_tokens"),
            **{name: get(name) for name in CONTAINER_FIELDS},
        )


def segment_text(text: str) -> list[Block]:
    """Plain text: one paragraph per non-blank line."""
    return [Block(text=line) for line in (clean_whitespace(x) for x in text.splitlines()) if line]


_PLAIN_PARSER = etree.HTMLParser()


def parse_html(document: str | bytes, plain: bool = False) -> etree._Element | None:
    """Parse a page (lxml repairs broken markup); None when nothing can be parsed.

    ``plain`` gives plain lxml elements instead of ``lxml.html`` ones: the same tree from the
    same parser, without the Python class lookup ``lxml.html`` runs for every element (about a
    tenth of segmentation time); callers that need ``text_content()`` leave it off."""
    if isinstance(document, bytes):
        document = decode_bytes(document)[0]
    document = _TEXT_WRAPPER_RE.sub("", document, count=1)
    if not document.strip():
        return None
    # lxml refuses str input that carries an XML encoding declaration or control characters.
    document = _CONTROL_RE.sub("", re.sub(r"^\s*<\?xml[^>]*\?>", "", document))
    try:
        if plain:
            root = etree.fromstring(document, _PLAIN_PARSER)
            if root is None:
                raise etree.ParserError("Document is empty")
            return root
        return html.document_fromstring(document)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None  # unparsable even after lxml's repairs: the caller reports "no blocks"


def _css_tokens(element: etree._Element) -> list[str]:
    """Lower-case word tokens of class and id, without annotation classes (x-nc-*)."""
    classes = [c for c in (element.get("class") or "").split() if not c.startswith("x-nc-")]
    raw = f"{' '.join(classes)} {element.get('id') or ''}".lower()
    return _TOKEN_RE.findall(raw)[:6]


def _is_hidden(element: etree._Element) -> bool:
    streamed = _REACT_STREAMED_RE.fullmatch(element.get("id") or "")
    if element.get("hidden") is not None and not streamed:
        return True
    if element.get("aria-hidden") == "true":
        return True
    style = element.get("style")
    if style and _HIDDEN_STYLE_RE.search(style):
        return True
    css_class = element.get("class") or ""
    return "x-nc-invisible" in css_class


def segment_html(
    document: str | bytes,
    label_class_prefix: str | None = None,
    default_label: str = "",
) -> list[Block]:
    """Segment a page into blocks in document order.

    With ``label_class_prefix`` (e.g. ``"x-nc-sel"``), each block also counts its characters
    per label: the class of the innermost ancestor whose class starts with the prefix
    (``default_label`` where none). Those label classes are not part of ``css_tokens``.
    """
    root = parse_html(document, plain=True)
    if root is None:
        return []
    for element in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        _drop(element)
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        if element.tag.lower() in DROP_TAGS or _is_hidden(element):
            _drop(element)

    blocks: list[Block] = []
    owners: list[etree._Element] = []  # the block element that holds each block
    pieces: list[tuple[str, bool, str]] = []  # (text, inside a link, label)
    block_stack: list[tuple[str, int, str, etree._Element]] = [("html", 0, "", root)]
    label_stack: list[str] = [default_label]
    link_depth = 0
    depth = 0

    def flush() -> None:
        if not pieces:
            return
        text = clean_whitespace("".join(p[0] for p in pieces))
        if text:
            tag, block_depth, tokens, owner = block_stack[-1]
            total = sum(len(p[0].strip()) for p in pieces) or 1
            linked = sum(len(p[0].strip()) for p in pieces if p[1])
            label_chars: dict[str, int] = {}
            if label_class_prefix is not None:
                for piece_text, _, label in pieces:
                    n = len(piece_text.strip())
                    if n:
                        label_chars[label] = label_chars.get(label, 0) + n
            blocks.append(
                Block(
                    text=text,
                    tag=tag,
                    link_density=round(linked / total, 4),
                    dom_depth=block_depth,
                    css_tokens=tokens,
                    label_chars=label_chars,
                )
            )
            owners.append(owner)
        pieces.clear()

    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            depth += 1
            if label_class_prefix is not None:
                label = next(
                    (
                        c
                        for c in (element.get("class") or "").split()
                        if c.startswith(label_class_prefix)
                    ),
                    None,
                )
                label_stack.append(label or label_stack[-1])
            if tag in BLOCK_TAGS:
                flush()
                parent_tokens = block_stack[-1][2].split()[:3]
                own = _css_tokens(element)
                tokens = " ".join(list(dict.fromkeys(own + parent_tokens))[:_MAX_CSS_TOKENS])
                block_stack.append((tag, depth, tokens, element))
            if tag == "a":
                link_depth += 1
            if element.text:
                pieces.append((element.text, link_depth > 0, label_stack[-1]))
        else:
            if tag == "a":
                link_depth -= 1
            if tag in BLOCK_TAGS:
                flush()
                block_stack.pop()
            if label_class_prefix is not None:
                label_stack.pop()
            depth -= 1
            if element.tail:
                pieces.append((element.tail, link_depth > 0, label_stack[-1]))
    flush()
    _add_container_features(blocks, owners)
    return blocks


def _add_container_features(blocks: list[Block], owners: list[etree._Element]) -> None:
    """Set the container fields of every block (one pass up the ancestors of each block;
    lxml keeps one proxy per node while ``owners`` holds it)."""
    good = [
        len(b.text) * (1 - (b.link_density or 0.0))
        if len(b.text.split()) >= ARTICLE_LIKE_WORDS and (b.link_density or 0.0) < 0.5
        else 0.0
        for b in blocks
    ]
    held: dict[etree._Element, float] = {}
    score: dict[etree._Element, float] = {}
    chains = []
    for owner, amount in zip(owners, good, strict=True):
        chain = [owner, *owner.iterancestors()]
        chains.append(chain)
        if amount:
            for element in chain:
                held[element] = held.get(element, 0.0) + amount
            for weight, element in zip((1.0, 0.5), chain[1:3], strict=False):
                score[element] = score.get(element, 0.0) + weight * amount
    total = sum(good)
    main = max(score, key=score.get) if score else None
    numbers: dict[etree._Element, int] = {}
    for block, chain in zip(blocks, chains, strict=True):
        parent = chain[1] if len(chain) > 1 else chain[0]
        grandparent = chain[2] if len(chain) > 2 else parent
        block.parent_id = numbers.setdefault(parent, len(numbers))
        block.grandparent_id = numbers.setdefault(grandparent, len(numbers))
        if not total:
            block.container_share, block.in_main_container = 0.0, 0.0
            continue
        parents = chain[1:3] or chain[:1]
        block.container_share = round(max(held.get(e, 0.0) for e in parents) / total, 4)
        block.in_main_container = float(main is not None and main in chain)


def _drop(element: etree._Element) -> None:
    """Remove an element but keep its tail text (it belongs to the parent)."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def segment(document: str | bytes, is_html: bool | None = None) -> list[Block]:
    """Segment HTML or text; guess from the content when ``is_html`` is None."""
    if isinstance(document, bytes):
        document = decode_bytes(document)[0]
    if is_html is None:
        is_html = looks_like_html(document)
    return segment_html(document) if is_html else segment_text(document)


def looks_like_html(document: str) -> bool:
    head = document[:2048].lstrip().lower()
    return head.startswith(("<!doctype", "<html", "<?xml", "<head", "<body")) or bool(
        re.search(r"<(p|div|body|html|article)\b", head)
    )


# Whole pages as plain text, the way users who hold text have them: one line per paragraph,
# menus, captions and teasers included. ``blocks`` is this module's own segmentation, one
# block per line; ``html-text`` is the html-text library's rendering (newlines where a browser
# breaks lines). html-text was chosen over inscriptis and resiliparse because it parses with
# lxml, the parser segmentation already uses (the same repairs of broken markup), is pure
# Python (no compiled dependency for a training-time view) and renders like a browser's
# innerText, which is what scrapers' "page as text" usually is. The dataset's text views and
# the page-level evaluation both render through this one function.
TEXT_RENDERINGS = ("blocks", "html-text")


def render_text(document: str | bytes, rendering: str) -> str:
    """The page as plain text in one of ``TEXT_RENDERINGS`` ("" for an unparsable page)."""
    if rendering == "blocks":
        return "\n".join(block.text for block in segment_html(document))
    if rendering == "html-text":
        import html_text

        root = parse_html(document)
        if root is None:
            return ""
        return html_text.extract_text(root, guess_layout=True)
    raise ValueError(f"unknown text rendering {rendering!r}; known: {TEXT_RENDERINGS}")


def text_lines(document: str | bytes, rendering: str) -> list[str]:
    """The rendering's non-blank lines, whitespace-cleaned (what ``segment_text`` reads)."""
    return [block.text for block in segment_text(render_text(document, rendering))]
