"""Reading inputs (text, HTML, JSONL, gzip, directories, stdin, bad files) and the batch CLI."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys

import pytest

from clean_support import CLEAN_INPUTS
from newsclean.clean import batch
from newsclean.clean.inputs import (
    Article,
    InputError,
    RawArticle,
    article_id_from_path,
    expand_paths,
    raw_from_record,
    read_path,
    to_article,
)
from newsclean.clean.results import ARTICLE_FIELDS


def read_all(path, stdin=None):
    return list(read_path(str(path), stdin))


# ------------------------------------------------------------------ formats


def test_text_file_is_one_paragraph_per_line():
    (raw,) = read_all(CLEAN_INPUTS / "ferry.txt")
    assert (raw.id, raw.format, raw.path) == ("ferry", "text", str(CLEAN_INPUTS / "ferry.txt"))
    article = raw.to_article()
    assert len(article.blocks) == 7  # the blank line is not a paragraph
    assert article.blocks[0].text == "Harbour council approves new evening ferry crossings"
    assert article.blocks[0].tag is None


def test_html_file_is_segmented_like_training():
    (raw,) = read_all(CLEAN_INPUTS / "library.html")
    article = raw.to_article()
    texts = [b.text for b in article.blocks]
    assert any(t.startswith("The town library in Saltmarsh") for t in texts)
    assert not any("tracker" in t or "color:red" in t for t in texts)
    assert all(b.tag is not None and b.dom_depth is not None for b in article.blocks)


def test_broken_html_is_repaired_not_rejected():
    (raw,) = read_all(CLEAN_INPUTS / "broken.html")
    texts = [b.text for b in raw.to_article().blocks]
    assert any("coastal road between Saltmarsh" in t for t in texts)


def test_a_jsonl_record_ends_at_a_newline_only(tmp_path):
    """U+2028, U+2029 and U+0085 may stand unescaped inside a JSON string (json.dumps with
    ensure_ascii=False writes them so); they do not end the record. CRLF files work too."""
    text = "Line\u2028separator, paragraph\u2029separator and next\u0085line in one article."
    path = tmp_path / "odd.jsonl"
    records = [json.dumps({"id": "odd", "text": text}, ensure_ascii=False), '{"text": "B."}']
    path.write_bytes("\r\n".join(records).encode() + b"\r\n")
    first, second = read_all(path)
    assert (first.id, first.payload, first.record) == ("odd", text, "line 1")
    assert (second.id, second.record) == ("odd-2", "line 2")


def test_jsonl_records_and_their_errors_name_file_and_line():
    items = read_all(CLEAN_INPUTS / "batch.jsonl")
    assert [type(i).__name__ for i in items] == [
        "RawArticle",
        "RawArticle",
        "RawArticle",
        "InputError",
        "InputError",
        "RawArticle",
    ]
    assert [i.format for i in items if isinstance(i, RawArticle)] == [
        "text",
        "paragraphs",
        "html",
        "text",
    ]
    assert items[0].id == "orchard-text" and items[0].record == "line 1"
    assert items[5].id == "batch-6"  # no id: file name and line
    bad_json, no_text = items[3], items[4]
    assert str(bad_json).startswith(f"{CLEAN_INPUTS / 'batch.jsonl'}: line 4: invalid JSON")
    assert "line 5" in str(no_text) and "no 'text', 'paragraphs' or 'html'" in str(no_text)
    assert "unknown fields: title" in str(no_text)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": 1, "text": "a", "html": "<p>b</p>"}, "not text and html"),
        ({"paragraphs": "one string"}, "must be a list of strings"),
        ({"paragraphs": ["ok", 3]}, "item 1 is int"),
        ({"text": 5}, "'text' must be a string"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_wrong_records_get_clear_errors(record, message):
    with pytest.raises(InputError, match=message):
        raw_from_record(record, "x")


def test_gzipped_inputs_by_suffix_and_by_content(tmp_path):
    text = (CLEAN_INPUTS / "ferry.txt").read_bytes()
    (tmp_path / "ferry.txt.gz").write_bytes(gzip.compress(text))
    (raw,) = read_all(tmp_path / "ferry.txt.gz")
    assert (raw.id, raw.format) == ("ferry", "text")
    jsonl = (CLEAN_INPUTS / "batch.jsonl").read_bytes()
    (tmp_path / "batch.jsonl.gz").write_bytes(gzip.compress(jsonl))
    assert len(read_all(tmp_path / "batch.jsonl.gz")) == 6
    (tmp_path / "page.bin").write_bytes(gzip.compress((CLEAN_INPUTS / "library.html").read_bytes()))
    (raw,) = read_all(tmp_path / "page.bin")
    assert raw.format == "html"  # gzip magic and HTML content recognised without suffixes
    (tmp_path / "fake.txt.gz").write_bytes(b"not gzip at all")
    (error,) = read_all(tmp_path / "fake.txt.gz")
    assert isinstance(error, InputError) and "not a valid gzip file" in str(error)
    (tmp_path / "cut.txt.gz").write_bytes(gzip.compress(text)[:40])
    (error,) = read_all(tmp_path / "cut.txt.gz")
    assert isinstance(error, InputError) and "gzip" in str(error)


def test_empty_blank_and_binary_files_are_errors(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("\n   \n\t\n")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "empty.html").write_text("<html><body><script>x()</script></body></html>")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    messages = {
        name: str(read_all(tmp_path / name)[0])
        for name in ("empty.txt", "blank.txt", "image.txt", "empty.jsonl")
    }
    assert messages["empty.txt"].endswith("empty file")
    assert messages["blank.txt"].endswith("empty file")
    assert messages["image.txt"].endswith("binary file (not text, HTML or JSONL)")
    assert messages["empty.jsonl"].endswith("empty file")
    (raw,) = read_all(tmp_path / "empty.html")
    with pytest.raises(InputError, match="no text found in the HTML"):
        raw.to_article()


def test_undeclared_windows_1252_text_is_decoded(tmp_path):
    (tmp_path / "cafe.txt").write_bytes("The café opened on Monday – at last.".encode("cp1252"))
    (raw,) = read_all(tmp_path / "cafe.txt")
    assert raw.to_article().blocks[0].text == "The café opened on Monday – at last."


def test_stdin_is_sniffed(tmp_path):
    (raw,) = read_all("-", io.BytesIO((CLEAN_INPUTS / "library.html").read_bytes()))
    assert (raw.id, raw.format, raw.path) == ("stdin", "html", "-")
    items = read_all("-", io.BytesIO((CLEAN_INPUTS / "batch.jsonl").read_bytes()))
    assert len(items) == 6
    (raw,) = read_all("-", io.BytesIO(b"One line of text.\nAnother line."))
    assert raw.format == "text"


def test_directories_expand_to_every_file_sorted_and_missing_paths_are_errors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "sub" / "a.html").write_text("<p>a</p>")
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "empty_dir").mkdir()
    items = list(expand_paths([str(tmp_path), str(tmp_path / "nope.txt"), "-"]))
    assert items[:2] == [str(tmp_path / "b.txt"), str(tmp_path / "sub" / "a.html")]
    assert "no such file or directory" in str(items[2])
    assert items[3] == "-"
    (error,) = list(expand_paths([str(tmp_path / "empty_dir")]))
    assert "directory has no files" in str(error)


def test_ids_and_objects():
    assert article_id_from_path("/x/a.html.gz") == "a"
    assert article_id_from_path("-") == "stdin"
    assert to_article(["One.", "  ", "Two."]).blocks[1].text == "Two."
    article = Article("x", [])
    assert to_article(article) is article


# ------------------------------------------------------------------ the batch


@pytest.mark.slow
def test_batch_reports_each_bad_input_and_cleans_the_rest(cleaner, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("ferry.txt", "library.html", "batch.jsonl", "broken.html"):
        (folder / name).write_bytes((CLEAN_INPUTS / name).read_bytes())
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300))
    huge = " ".join(["The harbour wall was repaired on Monday."] * 40_000)  # ~1.6 MB
    (folder / "huge.txt").write_text(huge + "\nShare this article\n")
    outcomes = list(batch.process(cleaner, [str(folder)], workers=2, chunk_size=2))
    cleaned = [o.result for o in outcomes if o.result]
    errors = [str(o.error) for o in outcomes if o.error]
    assert [r["id"] for r in cleaned] == [
        "orchard-text",
        "market-paragraphs",
        "choir-html",
        "batch-6",
        "broken",
        "ferry",
        "huge",
        "library",
    ]
    assert len(errors) == 4
    assert any("batch.jsonl: line 4: invalid JSON" in e for e in errors)
    assert any("empty.txt: empty file" in e for e in errors)
    assert any("photo.jpg: binary file" in e for e in errors)
    huge_result = next(r for r in cleaned if r["id"] == "huge")
    assert len(huge_result["paragraphs"][0]["text"]) + sum(
        s["end"] - s["start"] for s in huge_result["paragraphs"][0]["removed_spans"]
    ) <= len(huge)
    single = list(batch.process(cleaner, [str(folder)], workers=1, chunk_size=3))
    assert [o.result for o in single] == [o.result for o in outcomes]


@pytest.mark.slow
def test_cli_jsonl_on_a_directory_with_progress_and_exit_status(cleaner_store, tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "ferry.txt.gz").write_bytes(gzip.compress((CLEAN_INPUTS / "ferry.txt").read_bytes()))
    (folder / "library.html").write_bytes((CLEAN_INPUTS / "library.html").read_bytes())
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsclean",
            "clean",
            "--jsonl",
            "--keep",
            "news,teaser",
            str(folder),
            str(CLEAN_INPUTS / "batch.jsonl"),
        ],
        env=cleaner_store.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 1, out.stderr  # batch.jsonl has two bad records
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in records][:2] == ["ferry", "library"]
    assert len(records) == 6
    assert records[0]["path"] == str(folder / "ferry.txt.gz")
    for record in records:
        assert set(record) == set(ARTICLE_FIELDS)
        kept = [p for p in record["paragraphs"] if p["kept"]]
        assert all(p["kind"] in {"news", "teaser"} for p in kept)
        assert record["text"] == "\n\n".join(p["text"] for p in kept)
    assert "line 4: invalid JSON" in out.stderr
    assert "6 article(s) cleaned, 2 failed" in out.stderr
    assert "cleaning" in out.stderr  # the progress bar


@pytest.mark.slow
def test_cli_stdin_and_several_files_as_text(cleaner_store):
    page = (CLEAN_INPUTS / "library.html").read_bytes()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsclean",
            "clean",
            "-",
            str(CLEAN_INPUTS / "ferry.txt"),
        ],
        input=page,
        env=cleaner_store.env(),
        capture_output=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    stdout = out.stdout.decode("utf-8")
    assert stdout.startswith("==> - <==\n")
    assert f"==> {CLEAN_INPUTS / 'ferry.txt'} <==" in stdout


@pytest.mark.slow
def test_cli_usage_errors(cleaner_store):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "newsclean", "clean", *args],
            env=cleaner_store.env(),
            capture_output=True,
            text=True,
            timeout=180,
        )

    bad_keep = run("--keep", "gossip", str(CLEAN_INPUTS / "ferry.txt"))
    assert bad_keep.returncode == 2 and "kinds to keep" in bad_keep.stderr
    missing = run("/no/such/file.txt")
    assert missing.returncode == 1
    assert "/no/such/file.txt: no such file or directory" in missing.stderr
