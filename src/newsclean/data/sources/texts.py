"""Text corpora without pages: headline lists, spam messages, ad sentences, topic articles.

Each record becomes a small document (one article, one headline, one response) so that the
split stays by document like everywhere else.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from newsclean.config import KINDS, TOPICS
from newsclean.data.sources.base import BuildLog, Document, Paragraph, iter_lines
from newsclean.text import clean_whitespace, decode_bytes

BBC_TOPICS = {
    "business": "business",
    "entertainment": "entertainment",
    "politics": "world",
    "sport": "sports",
    "tech": "sci_tech",
}
AG_TOPICS = {"1": "world", "2": "sports", "3": "business", "4": "sci_tech"}
_SPAN_RE = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def _decode_line(source: str, path: Path, number: int, raw: bytes, log: BuildLog) -> str:
    text, _, replaced = decode_bytes(raw)
    if replaced:
        log.drop(source, path, f"line {number}", "bytes decoded with replacement (kept)")
    return text


def _check_folder(source: str, path: Path, log: BuildLog) -> bool:
    if not path.exists():
        log.drop(source, path, "corpus", "file missing (missing or partial folder)")
        return False
    return True


def clickbait(corpora_dir: Path, log: BuildLog) -> Iterator[Document]:
    """Clickbait headlines → teaser; conventional news headlines → news."""
    source = "clickbait-chakraborty"
    for file_name, kind in (("clickbait_data.gz", "teaser"), ("non_clickbait_data.gz", "news")):
        path = corpora_dir / source / file_name
        if not _check_folder(source, path, log):
            continue
        for number, raw in iter_lines(path):
            text = clean_whitespace(_decode_line(source, path, number, raw, log))
            if not text:
                continue  # the files separate headlines with blank lines: not records
            yield Document(
                source,
                f"{kind}-{number}",
                [Paragraph(text=text, is_news=kind == "news", kind=kind)],
                stratum=kind,
            )


def sms_spam(corpora_dir: Path, log: BuildLog) -> Iterator[Document]:
    """SMS spam → spam. Ham (personal chat) maps to no label of ours and is counted, not used."""
    source = "sms-spam"
    path = corpora_dir / source / "SMSSpamCollection.tsv.gz"
    if not _check_folder(source, path, log):
        return
    for number, raw in iter_lines(path):
        line = _decode_line(source, path, number, raw, log)
        label, sep, text = line.partition("\t")
        text = clean_whitespace(text)
        if not sep or label not in {"ham", "spam"}:
            log.drop(source, path, f"line {number}", f"malformed row (label {label[:20]!r})")
        elif not text:
            log.drop(source, path, f"line {number}", "empty text")
        elif label == "ham":
            log.drop(source, path, f"line {number}", "ham message (no newsclean label)")
        else:
            yield Document(
                source,
                f"sms-{number}",
                [Paragraph(text=text, is_news=False, kind="spam")],
                stratum="spam",
            )


def webis_ads(corpora_dir: Path, log: BuildLog) -> Iterator[Document]:
    """The ad-bearing sentence of each ad response → spam (native advertising)."""
    source = "webis-native-ads"
    for split_name, split in (("validation", "train"), ("test", "test")):
        responses_path = corpora_dir / source / f"responses-{split_name}.jsonl.gz"
        labels_path = corpora_dir / source / f"responses-{split_name}-labels.jsonl.gz"
        if not (
            _check_folder(source, responses_path, log) and _check_folder(source, labels_path, log)
        ):
            continue
        labels = {}
        for number, raw in iter_lines(labels_path):
            try:
                record = json.loads(_decode_line(source, labels_path, number, raw, log))
                labels[record["id"]] = record
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                log.drop(source, labels_path, f"line {number}", f"malformed label row: {error}")
        for number, raw in iter_lines(responses_path):
            try:
                record = json.loads(_decode_line(source, responses_path, number, raw, log))
                response_id, response = str(record["id"]), record["response"]
                if not isinstance(response, str):
                    raise TypeError(f"response is {type(response).__name__}, not text")
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                log.drop(source, responses_path, f"line {number}", f"malformed row: {error}")
                continue
            label = labels.get(response_id)
            if label is None:
                log.drop(source, responses_path, f"line {number}", "no label row")
                continue
            if str(label.get("label")) != "1":
                continue  # ad-free answers: informational prose, no newsclean label
            match = _SPAN_RE.search(str(label.get("sen_span") or ""))
            if not match:
                log.drop(source, labels_path, response_id, "ad without a sentence span")
                continue
            sentence = clean_whitespace(response[int(match.group(1)) : int(match.group(2))])
            if not sentence:
                log.drop(source, responses_path, response_id, "empty ad sentence")
                continue
            yield Document(
                source,
                response_id,
                [Paragraph(text=sentence, is_news=False, kind="spam")],
                official_split=split,
                stratum="spam",
                group=response_id.rsplit("-", 1)[0],
            )


def bbc_news(corpora_dir: Path, log: BuildLog) -> Iterator[Document]:
    """BBC articles: title and every paragraph are news; category → topic."""
    source = "bbc-news"
    path = corpora_dir / source / "bbc-news.jsonl.gz"
    if not _check_folder(source, path, log):
        return
    for number, raw in iter_lines(path):
        try:
            record = json.loads(_decode_line(source, path, number, raw, log))
            doc_id, category = str(record["id"]), record["category"]
            title, body = record.get("title") or "", record.get("body") or ""
            if not all(isinstance(v, str) for v in (category, title, body)):
                raise TypeError("category, title and body must be text")
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            log.drop(source, path, f"line {number}", f"malformed row: {error}")
            continue
        topic = BBC_TOPICS.get(category)
        if topic is None:
            log.drop(source, path, f"line {number}", f"unknown category {category!r}")
            continue
        texts = [title, *re.split(r"\n\s*\n", body)]
        paragraphs = [
            Paragraph(text=clean_whitespace(t), is_news=True, kind="news", topic=topic)
            for t in texts
            if clean_whitespace(t)
        ]
        if not paragraphs:
            log.drop(source, path, f"line {number}", "empty article")
            continue
        yield Document(source, doc_id, paragraphs, stratum=topic)


def _clean_ag(text: str) -> str:
    """Undo AG News feed artefacts: '#39;' apostrophes, '\\$' prices, escaped markup."""
    text = text.replace("#39;", "'").replace("\\$", "$").replace("\\", " ")
    text = html.unescape(html.unescape(text))
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    return clean_whitespace(text)


def ag_news_rows(
    rows: Iterable[tuple[int, Sequence[str]]],
    source: str,
    path: Path | str,
    log: BuildLog,
    split: str | None = None,
) -> Iterator[Document]:
    """(row number, (class, title, description)) → one news document per row."""
    for number, row in rows:
        if len(row) != 3:
            log.drop(source, path, f"row {number}", f"malformed row ({len(row)} fields)")
            continue
        label, title, description = row
        topic = AG_TOPICS.get(str(label).strip())
        if topic is None:
            log.drop(source, path, f"row {number}", f"unknown class {label!r}")
            continue
        paragraphs = [
            Paragraph(text=_clean_ag(t), is_news=True, kind="news", topic=topic)
            for t in (str(title), str(description))
            if _clean_ag(t)
        ]
        if not paragraphs:
            log.drop(source, path, f"row {number}", "empty text")
            continue
        yield Document(source, f"ag-{split or 'row'}-{number}", paragraphs, split, stratum=topic)


def ag_news(corpora_dir: Path, log: BuildLog) -> Iterator[Document]:
    """AG News test split (the only one here): each row → a title and a description, news."""
    source = "ag-news"
    path = corpora_dir / source / "test.csv.gz"
    if not _check_folder(source, path, log):
        return
    # Decode line by line so one bad byte costs a warning on its row, not the whole file.
    lines = [_decode_line(source, path, n, raw, log) for n, raw in iter_lines(path)]
    reader = csv.reader(lines)
    rows = ((reader.line_num, row) for row in reader)
    yield from ag_news_rows(rows, source, path, log)


def sample(sample_dir: Path, log: BuildLog) -> Iterator[Document]:
    """The project's own sample articles (data/sample/articles.jsonl), labelled by hand."""
    source = "sample"
    path = sample_dir / "articles.jsonl"
    if not _check_folder(source, path, log):
        return
    for number, raw in iter_lines(path):
        if not raw.strip():
            continue
        try:
            record = json.loads(_decode_line(source, path, number, raw, log))
            doc_id, items = str(record["id"]), record["paragraphs"]
            if not isinstance(items, list):
                raise TypeError("paragraphs is not a list")
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            log.drop(source, path, f"line {number}", f"malformed row: {error}")
            continue
        paragraphs = []
        for index, item in enumerate(items):
            where = f"line {number} ({doc_id}) paragraph {index}"
            if not isinstance(item, dict):
                log.drop(source, path, where, "malformed paragraph (not an object)")
                continue
            text = clean_whitespace(str(item.get("text") or ""))
            kind, topic = item.get("kind"), item.get("topic")
            if not text:
                log.drop(source, path, where, "empty text")
            elif kind not in KINDS:
                log.drop(source, path, where, f"unknown kind {kind!r}")
            elif topic is not None and topic not in TOPICS:
                log.drop(source, path, where, f"unknown topic {topic!r}")
            else:
                topic = topic if kind in {"news", "teaser"} else None
                paragraphs.extend(_split_glued(text, kind, topic, item.get("junk")))
        if paragraphs:
            stratum = str(record.get("topic") or source)
            yield Document(source, doc_id, paragraphs, stratum=stratum)
        else:
            log.drop(source, path, f"line {number} ({doc_id})", "no usable paragraphs")


def _split_glued(text: str, kind: str, topic: str | None, junk: object) -> list[Paragraph]:
    """A sample paragraph with junk glued on becomes two rows: the junk with its own kind, and
    the paragraph without it. Training then sees clean examples of both; the cleaner's own
    glued-junk benchmark glues junk back on with its generator."""
    own = Paragraph(text=text, is_news=kind == "news", kind=kind, topic=topic)
    if not isinstance(junk, dict) or junk.get("kind") not in KINDS:
        return [own]
    junk_text = clean_whitespace(str(junk.get("text") or ""))
    where = junk.get("where")
    if not junk_text or where not in {"start", "end"}:
        return [own]
    if where == "start" and text.startswith(junk_text):
        rest = text[len(junk_text) :].strip()
    elif where == "end" and text.endswith(junk_text):
        rest = text[: -len(junk_text)].strip()
    else:
        return [own]
    junk_kind = junk["kind"]
    glued = Paragraph(
        text=junk_text,
        is_news=junk_kind == "news",
        kind=junk_kind,
        topic=topic if junk_kind in {"news", "teaser"} else None,
    )
    own.text = rest
    parts = [glued, own] if where == "start" else [own, glued]
    return [p for p in parts if p.text]
