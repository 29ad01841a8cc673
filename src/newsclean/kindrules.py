"""The shapes docs/labels.md calls boilerplate whatever a corpus says: bylines, timestamps and
picture credits, when a paragraph is *only* that.

One definition, used twice: the dataset build relabels such blocks (``labels``) and the
cleaner drops such paragraphs whatever the model says (``cleaning``), so a two-paragraph
article does not keep its "Published at 9:40 a.m." line.

The patterns are deliberately narrow: a block must consist of the byline or the date and
nothing else (a headline such as "Bynum injured as Lakers squeak by Grizzlies", a sentence
such as "By Monday the flood had receded." or a table of numbers is left alone).
"""

from __future__ import annotations

import re

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DAYS = (
    r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?"
)
# Words a timestamp may hold besides month and day names and numbers.
_STAMP_WORDS = (
    r"published|posted|updated|last|modified|created|date|time|at|on|am|pm|a\.m|p\.m"
    r"|gmt|utc|bst|est|edt|cst|cdt|pst|pdt|cet|cest|ist|aest|aedt|et|today|yesterday|ago"
    r"|seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?"
)
_NUMBER = r"\d+(?:st|nd|rd|th|am|pm|h)?\b"
_STAMP_TOKEN_RE = re.compile(rf"\b(?:{_MONTHS}|{_DAYS}|{_STAMP_WORDS})\b\.?|{_NUMBER}", re.I)
# A timestamp needs a date or a time, not just a number: "2012" or "0.30" stay what they are.
_DATE_CORE_RE = re.compile(
    rf"\b(?:{_MONTHS}|{_DAYS})\b.*\d|\d.*\b(?:{_MONTHS}|{_DAYS})\b"
    r"|\b\d{1,2}:\d{2}|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\bago\b|\b(?:today|yesterday)\b",
    re.I,
)
_STAMP_PREFIX_RE = re.compile(
    rf"^(?:\W*(?:(?:{_MONTHS}|{_DAYS}|{_STAMP_WORDS})\b\.?|{_NUMBER}))*\W*", re.I
)
_NON_WORD_RE = re.compile(r"[\W_]+")
_BYLINE_RE = re.compile(
    r"^\W*(?:(?:posted|written|words|story|text|report(?:ed|ing)?|photos?)\s+)?by\s*:?\s+([\w.]+)",
    re.I,
)
# "By Monday…", "By then…", "By far…": the word after "by" that makes it a sentence.
_NOT_A_NAME_RE = re.compile(rf"(?:{_MONTHS}|{_DAYS}|then|now|far|and|the\s+end)", re.I)
_CREDIT_RE = re.compile(
    r"^\W{0,3}(?:(?:file\s+)?photo(?:graph)?s?|images?|pic(?:ture)?s?|caption|credits?"
    r"|illustration|graphic)\s*(?:credits?)?\s*[:|]",
    re.I,
)
MAX_RULE_CHARS = 120
MAX_BYLINE_WORDS = 14
MAX_STAMP_CHARS = 80


def is_timestamp(text: str) -> bool:
    """Only a date or time: "Published at 9:40 a.m.", "Thursday, January 17th", "2 days ago"."""
    if len(text) > MAX_STAMP_CHARS or not _DATE_CORE_RE.search(text):
        return False
    return not _NON_WORD_RE.sub("", _STAMP_TOKEN_RE.sub("", text))


def is_byline(text: str) -> bool:
    """Only a byline, maybe with a date: "By ANNE GEARAN, AP", "Jan 14 2008 by Andy Howell"."""
    words = text.split()
    if len(words) > MAX_BYLINE_WORDS or len(text) > MAX_RULE_CHARS:
        return False
    match = _BYLINE_RE.match(text[_STAMP_PREFIX_RE.match(text).end() :])
    if match is None or not match.group(1)[0].isupper():
        return False
    name = match.group(1).rstrip(".")
    if _NOT_A_NAME_RE.fullmatch(name):
        return False
    if name == "The" and len(words) > 5:  # "By The Associated Press", not "By the end of…"
        return False
    return not (text.rstrip()[-1:] in ".!?" and len(words) > 8)  # a sentence, not a credit


def is_credit(text: str) -> bool:
    """A picture caption or credit that says so: "Photo: Reuters/Jane Smith Fans gather…"."""
    return bool(_CREDIT_RE.match(text))


RULES = (("timestamp", is_timestamp), ("byline", is_byline), ("credit", is_credit))


def rule_for(text: str) -> str | None:
    """The name of the first rule that makes ``text`` boilerplate, or None."""
    if len(text) > MAX_RULE_CHARS * 3:
        return None
    text = " ".join(text.split())
    for name, rule in RULES:
        if rule(text):
            return name
    return None
