"""Readers and fixed splits of the evaluation data (fetched once by ``python -m tataa.eval.datasets fetch``).

* ``movie_reviews``: the 10,605 rotten-tomatoes snippets of Hutto & Gilbert (ICWSM 2014) with the mean of their
  human sentiment ratings (-4..4); ``sentiment_split`` labels them +1/-1 by the sign of that mean, drops the 37 rated
  exactly 0 and the 2 repeated snippets (10,566 remain: 5,241 positive, 5,325 negative), and splits them
  stratified by label.
* ``wikipedia_articles``: the 98 prose articles (namespace 0; the 100 redirects and 8 disambiguation pages left
  out) of the shortened enwiki dump in gensim's test data, wiki markup stripped: 2.79 M characters of plain text.
* ``austen_texts``: Jane Austen's six novels from the R package janeaustenr (4.02 M characters), paragraphs
  reflowed onto one line each; ``austen_split`` holds out the last 10 % of every novel (3.61 M train / 0.40 M
  held-out characters).
* ``digits_split``: scikit-learn's 8x8 handwritten digits, split stratified by class.

Counts quoted here are asserted by ``tests/test_eval_datasets.py``.
"""

from __future__ import annotations

import argparse
import bz2
import functools
import struct
import sys
import warnings
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tataa.errors import TataaError
from tataa.eval.fetch import FETCH_COMMAND, cached_file, data_dir, fetch
from tataa.eval.wikimarkup import is_disambiguation, wiki_to_text

MOVIE_REVIEWS = "vader/movieReviewSnippets_GroundTruth.txt"
WIKIPEDIA_DUMP = "wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
AUSTEN_RDB = "janeaustenr/Rdata.rdb"
AUSTEN_RDX = "janeaustenr/Rdata.rdx"

AUSTEN_TITLES: dict[str, str] = {
    "sensesensibility": "Sense & Sensibility",
    "prideprejudice": "Pride & Prejudice",
    "mansfieldpark": "Mansfield Park",
    "emma": "Emma",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}
"""janeaustenr's object names and the titles ``austen_texts`` uses (in publication order, as the R package)."""

AUSTEN_HELDOUT_FRACTION = 0.1
"""Fraction of each novel (by characters, cut at a paragraph boundary) that ``austen_split`` holds out."""

Labelled = list[tuple[str, int]]


# ---------------------------------------------------------------------------------------------------- sentiment


@functools.cache
def _movie_reviews() -> tuple[tuple[str, float], ...]:
    path = cached_file(MOVIE_REVIEWS)
    rows: list[tuple[str, float]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        if len(fields) != 3:
            raise TataaError(f"{path}:{n}: expected 'id<TAB>mean<TAB>text', got {line[:60]!r}")
        rows.append((fields[2].strip(), float(fields[1])))
    return tuple(rows)


def movie_reviews() -> list[tuple[str, float]]:
    """Every movie-review snippet with its mean human sentiment rating (-4 very negative .. +4 very positive)."""
    return list(_movie_reviews())


def sentiment_split(seed: int = 0, test_fraction: float = 0.2) -> tuple[Labelled, Labelled]:
    """Movie-review snippets labelled +1/-1 by the sign of their mean rating, split into (train, test).

    Snippets rated exactly 0 and repeats of an earlier snippet's text are dropped. The split is stratified: each
    label's snippets are shuffled by ``numpy.random.default_rng(seed)`` and the first ``round(test_fraction * n)``
    go to test; both lists keep file order. The same seed always gives the same split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise TataaError(f"sentiment_split: test_fraction {test_fraction} must lie strictly between 0 and 1")
    seen: set[str] = set()
    items: Labelled = []
    for text, rating in _movie_reviews():
        if rating == 0.0 or text in seen:
            continue
        seen.add(text)
        items.append((text, 1 if rating > 0 else -1))
    rng = np.random.default_rng(seed)
    test_idx: set[int] = set()
    for label in (-1, 1):
        idx = np.array([i for i, (_, y) in enumerate(items) if y == label])
        rng.shuffle(idx)
        test_idx.update(int(i) for i in idx[: round(test_fraction * len(idx))])
    train = [it for i, it in enumerate(items) if i not in test_idx]
    test = [it for i, it in enumerate(items) if i in test_idx]
    return train, test


# ---------------------------------------------------------------------------------------------------- wikipedia


@functools.cache
def _wikipedia_articles() -> tuple[tuple[str, str], ...]:
    path = cached_file(WIKIPEDIA_DUMP)
    out: list[tuple[str, str]] = []
    try:
        with bz2.open(path, "rb") as f:
            for _, elem in ET.iterparse(f):
                if _local(elem.tag) != "page":
                    continue
                fields = {_local(c.tag): c for c in elem}
                title = fields["title"].text or ""
                revision = {_local(c.tag): c for c in fields["revision"]}
                source = revision["text"].text or ""
                if fields["ns"].text == "0" and "redirect" not in fields and not is_disambiguation(source):
                    out.append((title, wiki_to_text(source)))
                elem.clear()
    except (ET.ParseError, OSError, EOFError, KeyError) as e:
        raise TataaError(f"{path} is not a readable MediaWiki dump ({e}); run `{FETCH_COMMAND} --force`") from None
    return tuple(out)


def wikipedia_articles() -> list[tuple[str, str]]:
    """The dump's prose articles as (title, plain text), in dump order (redirects and disambiguation pages left out;
    markup stripped by ``tataa.eval.wikimarkup.wiki_to_text``)."""
    return list(_wikipedia_articles())


def _local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


# ---------------------------------------------------------------------------------------------------- austen


@functools.cache
def _austen_lines() -> dict[str, tuple[str, ...]]:
    """janeaustenr's character vectors (one element per printed line), read from its R lazy-load database."""
    import rdata

    rdb, rdx = cached_file(AUSTEN_RDB), cached_file(AUSTEN_RDX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = rdata.conversion.convert(rdata.parser.parse_file(rdx, extension=".rds"))
        blob = rdb.read_bytes()
        out: dict[str, tuple[str, ...]] = {}
        for name in AUSTEN_TITLES:
            try:
                offset, length = (int(v) for v in index["variables"][name])
            except (KeyError, TypeError, ValueError):
                raise TataaError(f"{rdx} has no entry for {name!r}; run `{FETCH_COMMAND} --force`") from None
            out[name] = tuple(str(s) for s in _lazyload_object(blob[offset:offset + length], rdb.name))
    return out


def _lazyload_object(chunk: bytes, where: str) -> Any:
    """One object of an R lazy-load database: a 4-byte big-endian length, then zlib-compressed serialised R data."""
    import rdata

    try:
        size = struct.unpack(">I", chunk[:4])[0]
        raw = zlib.decompress(chunk[4:])
    except (struct.error, zlib.error) as e:
        raise TataaError(f"{where}: corrupt lazy-load entry ({e})") from None
    if len(raw) != size:
        raise TataaError(f"{where}: lazy-load entry is {len(raw)} bytes, its header says {size}")
    return rdata.conversion.convert(rdata.parser.parse_data(raw, extension=".rds"))


def _reflow(lines: Sequence[str]) -> str:
    """Printed lines to paragraphs: each run of non-blank lines joined by spaces, paragraphs separated by a blank
    line."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        line = " ".join(line.split())
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return "\n\n".join(paragraphs) + "\n"


@functools.cache
def _austen_texts() -> tuple[tuple[str, str], ...]:
    return tuple((AUSTEN_TITLES[name], _reflow(lines)) for name, lines in _austen_lines().items())


def austen_texts() -> dict[str, str]:
    """Jane Austen's six novels as {title: text}; one paragraph per line, paragraphs separated by a blank line."""
    return dict(_austen_texts())


def austen_split() -> tuple[dict[str, str], dict[str, str]]:
    """(train, held-out) texts per novel: the held-out part is each novel's tail from the paragraph boundary
    nearest to ``1 - AUSTEN_HELDOUT_FRACTION`` of its characters; train is the rest. Fixed, no seed."""
    train: dict[str, str] = {}
    held: dict[str, str] = {}
    for title, text in _austen_texts():
        mark = int(len(text) * (1.0 - AUSTEN_HELDOUT_FRACTION))
        before, after = text.rfind("\n\n", 0, mark), text.find("\n\n", mark)
        cut = min((c for c in (before, after) if c >= 0), key=lambda c: abs(c - mark)) + 2
        train[title], held[title] = text[:cut], text[cut:]
    return train, held


# ---------------------------------------------------------------------------------------------------- digits


def digits_split(seed: int = 0, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits as (x_train, y_train, x_test, y_test).

    ``x`` is float32 ``[n, 1, 8, 8]`` (channel first, as ``ViTForImageClassification`` takes it) with the 0..16
    intensities scaled to [0, 1]; ``y`` is int64 0..9. The split is ``train_test_split(..., stratify=y,
    random_state=seed)``; the same seed always gives the same split.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise TataaError(f"digits_split: test_fraction {test_fraction} must lie strictly between 0 and 1")
    digits = load_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    return x_tr, y_tr, x_te, y_te


# ---------------------------------------------------------------------------------------------------- command line


def _summary() -> str:
    """One line per data set: what the readers return."""
    reviews = movie_reviews()
    train, test = sentiment_split()
    wiki = wikipedia_articles()
    austen = austen_texts()
    a_train, a_held = austen_split()
    x_tr, _, x_te, _ = digits_split()
    pos = sum(y > 0 for _, y in train + test)
    return "\n".join([
        f"movie reviews: {len(reviews)} snippets; labelled {len(train) + len(test)} ({pos} positive), "
        f"split {len(train)} train / {len(test)} test",
        f"wikipedia: {len(wiki)} articles, {sum(len(t) for _, t in wiki):,} characters",
        f"austen: {len(austen)} novels, {sum(map(len, austen.values())):,} characters "
        f"({sum(map(len, a_train.values())):,} train / {sum(map(len, a_held.values())):,} held out)",
        f"digits: {len(x_tr)} train / {len(x_te)} test",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tataa.eval.datasets fetch [--force] | info``: fill the data cache, or describe what is in it."""
    parser = argparse.ArgumentParser(prog="python -m tataa.eval.datasets", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="download, verify (sha256) and unpack the evaluation data")
    p_fetch.add_argument("--force", action="store_true", help="download and unpack again even if cached")
    sub.add_parser("info", help="count what the readers return")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            files = fetch(force=args.force, log=lambda msg: print(f"[data] {msg}", file=sys.stderr))
            print(f"[data] {len(files)} file(s) in {data_dir()}", file=sys.stderr)
        else:
            print(_summary())
    except TataaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


__all__ = ["AUSTEN_HELDOUT_FRACTION", "AUSTEN_TITLES", "austen_split", "austen_texts", "digits_split", "main",
           "movie_reviews", "sentiment_split", "wikipedia_articles"]

if __name__ == "__main__":
    sys.exit(main())
