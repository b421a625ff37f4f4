"""Wiki markup to plain prose: enough of MediaWiki's syntax to turn article source into readable paragraphs.

Removed: comments, ``<ref>`` citations, templates (``{{...}}``, except a few inline ones whose text is prose:
``convert``, ``lang``, ``nowrap``...), tables, files and categories, ``<math>``/``<gallery>`` blocks, HTML tags
(their text is kept), bold/italic quotes, list and indentation markers, behaviour switches (``__TOC__``), and the
sections that hold no prose ("References", "External links", "See also", ...). Links become their shown text,
headings become lines of their own, HTML entities are decoded and runs of blank lines collapse to one.
"""

from __future__ import annotations

import html
import re

NON_PROSE_SECTIONS = frozenset({
    "references", "notes", "footnotes", "citations", "sources", "bibliography", "see also", "external links",
    "further reading", "notes and references", "references and notes", "works cited", "primary sources",
    "secondary sources", "notes and sources", "gallery",
})
"""Sections dropped with everything under them (compared lower-case)."""

_INLINE_TEMPLATES = {
    "lang": -1, "nowrap": 0, "nobr": 0, "small": 0, "smaller": 0, "big": 0, "em": 0, "strong": 0, "sic": -1,
    "transl": -1, "transliteration": -1, "lang-fr": 0, "lang-de": 0, "lang-el": 0, "lang-la": 0, "lang-ar": 0,
    "lang-grc": 0, "lang-es": 0, "lang-it": 0, "lang-ru": 0, "lang-pt": 0, "lang-zh": 0, "lang-he": 0,
    "visible anchor": 0, "vanchor": 0, "sc": 0, "smallcaps": 0, "math": 0, "mvar": 0, "abbr": 0,
}
"""Templates replaced by one of their positional arguments (index into the positional ones; -1 is the last)."""

_DROP_LINK_PREFIXES = ("file:", "image:", "category:", "media:", "wikipedia:", "wp:", "template:", "help:",
                       "portal:", "special:", "user:", "talk:", "wikt:", "wiktionary:", "s:", "commons:", "q:")
_DROP_BLOCKS = re.compile(r"<(math|gallery|timeline|score|syntaxhighlight|source|imagemap|chem|hiero|graph)\b[^>]*>"
                          r".*?</\1\s*>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
_REF = re.compile(r"<ref\b[^>/]*/>|<ref\b[^>]*>.*?</ref\s*>", re.S | re.I)
_TEMPLATE = re.compile(r"\{\{(?:(?!\{\{|\}\}).)*\}\}", re.S)
_PARAM = re.compile(r"\{\{\{(?:(?!\{\{\{|\}\}\}).)*\}\}\}", re.S)
_LINK = re.compile(r"\[\[((?:(?!\[\[|\]\]).)*)\]\]([a-z]*)", re.S)
_EXTLINK = re.compile(r"\[(?:https?:|ftp:|//)[^\s\]]*(?:\s+([^\]]*))?\]")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*\b[^>]*?/?>")
_HEADING = re.compile(r"^(={1,6})\s*(.*?)\s*\1\s*$")
_SWITCH = re.compile(r"__[A-Z]+__")
_LANG_CODE = re.compile(r"^[a-z]{2,3}(-[a-z]+)?:")
_SPACES = re.compile(r"[ \t\u00a0]+")


def wiki_to_text(source: str) -> str:
    """The plain prose of one article's wiki source (see the module docstring for what is kept)."""
    text = _COMMENT.sub("", source)
    text = re.sub(r"<nowiki>(.*?)</nowiki>", r"\1", text, flags=re.S | re.I)
    text = _DROP_BLOCKS.sub("", text)
    text = _REF.sub("", text)
    text = _innermost(_PARAM, text, lambda m: "")
    text = _innermost(_TEMPLATE, text, _template_text)
    text = _drop_tables(text)
    text = _innermost(_LINK, text, _link_text)
    text = _EXTLINK.sub(lambda m: m.group(1) or "", text)
    text = _TAG.sub("", text)
    text = html.unescape(html.unescape(text))
    text = _SWITCH.sub("", text)
    text = re.sub(r"'{2,}", "", text)
    return _layout(text)


def is_disambiguation(source: str) -> bool:
    """Whether an article's wiki source is a disambiguation page (a list of links, not prose)."""
    return re.search(r"\{\{\s*(disambig|disambiguation|dab|hndis|geodis|surname|given name)\s*[|}]", source,
                     re.I) is not None


def _innermost(pattern: re.Pattern[str], text: str, replace) -> str:  # type: ignore[no-untyped-def]
    """Substitute ``pattern`` repeatedly so that nested constructs resolve from the inside out."""
    while True:
        new = pattern.sub(replace, text)
        if new == text:
            return new
        text = new


def _template_text(m: re.Match[str]) -> str:
    """The text a template stands for in prose (empty for all but the inline ones)."""
    parts = [p.strip() for p in m.group(0)[2:-2].split("|")]
    name = parts[0].lower().replace("_", " ")
    positional = [p for p in parts[1:] if "=" not in p]
    if name in ("convert", "cvt") and len(positional) >= 2:
        unit = positional[1]
        if unit in ("-", "to", "and", "or", "–") and len(positional) >= 4:
            return f"{positional[0]} {unit} {positional[2]} {positional[3]}"
        return f"{positional[0]} {unit}"
    if name in _INLINE_TEMPLATES and positional:
        return positional[_INLINE_TEMPLATES[name]]
    if name.startswith("lang-") and positional:
        return positional[0]
    return ""


def _link_text(m: re.Match[str]) -> str:
    """A wiki link's shown text (files, categories and interlanguage links show nothing)."""
    inner, trail = m.group(1), m.group(2)
    target = inner.split("|", 1)[0].strip().lower()
    if target.startswith(_DROP_LINK_PREFIXES) or _LANG_CODE.match(target):
        return trail
    shown = inner.rsplit("|", 1)[-1] if "|" in inner else inner
    if "|" in inner and not shown.strip():  # the pipe trick [[Foo (bar)|]] shows "Foo"
        shown = re.sub(r"\s*\(.*\)$", "", inner.split("|", 1)[0])
    return shown.lstrip(":") + trail


def _drop_tables(text: str) -> str:
    """Remove ``{| ... |}`` tables (nested ones too)."""
    out: list[str] = []
    depth = 0
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("{|"):
            depth += 1
        elif depth and stripped.startswith("|}"):
            depth -= 1
        elif depth == 0:
            out.append(line)
    return "\n".join(out)


def _layout(text: str) -> str:
    """Headings on their own lines, list markers gone, non-prose sections dropped, blank lines collapsed."""
    lines: list[str] = []
    skip_level = 0
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        heading = _HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2).strip()
            if skip_level and level > skip_level:
                continue
            skip_level = level if title.lower() in NON_PROSE_SECTIONS else 0
            if not skip_level and title:
                lines += ["", title, ""]
            continue
        if skip_level:
            continue
        line = re.sub(r"^[*#:;]+\s*", "", line)
        if line.startswith(("|", "!")) or line in ("}}", "{{"):
            continue
        line = re.sub(r"\(\s*[,;]?\s*\)", "", line)  # brackets emptied by removed templates
        line = re.sub(r" +([,.;:])", r"\1", line).strip()
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


__all__ = ["NON_PROSE_SECTIONS", "is_disambiguation", "wiki_to_text"]
