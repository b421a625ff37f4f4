"""Evaluation data: acquisition (pinned hashes), readers and splits, and the two self-trained models.

The real-data tests read the cache that ``python -m tataa.eval.datasets fetch`` fills (set-up runs it); the fetch
machinery itself is exercised offline on archives made here.
"""

from __future__ import annotations

import hashlib
import io
import math
import subprocess
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tataa.errors import TataaError
from tataa.eval import datasets, fetch, trained
from tataa.eval.wikimarkup import is_disambiguation, wiki_to_text

# ---------------------------------------------------------------------------------------------------- fetch


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


class FakeRegistry:
    """A downloader that 'downloads' fixed bytes and counts its calls."""

    def __init__(self, payloads: dict[str, bytes]) -> None:
        self.payloads = payloads
        self.calls: list[str] = []

    def __call__(self, art: fetch.Artefact, dest: Path) -> None:
        self.calls.append(art.filename)
        (dest / art.filename).write_bytes(self.payloads[art.filename])


def _artefact(filename: str, payload: bytes, members: tuple[fetch.Member, ...], sha: str | None = None):
    return fetch.Artefact(name=f"fake {filename}", filename=filename, sha256=sha or _sha(payload), command=("false",),
                          members=members)


def test_fetch_unpacks_nested_archives_and_then_uses_the_cache(tmp_path: Path) -> None:
    inner = b"id\t1.5\tgood film\n"
    nested = _tar_gz({"pkg/inner.tar.gz": _tar_gz({"data/reviews.txt": inner})})
    wheel = _zip({"pkg/test_data/dump.bz2": b"BZh9 not really"})
    arts = (
        _artefact("pkg-1.0.tar.gz", nested,
                  (fetch.Member(("pkg/inner.tar.gz", "data/reviews.txt"), "a/reviews.txt", _sha(inner)),)),
        _artefact("pkg-1.0-py3-none-any.whl", wheel,
                  (fetch.Member(("pkg/test_data/dump.bz2",), "b/dump.bz2", _sha(b"BZh9 not really")),)),
    )
    registry = FakeRegistry({"pkg-1.0.tar.gz": nested, "pkg-1.0-py3-none-any.whl": wheel})
    files = fetch.fetch(tmp_path, artefacts=arts, download=registry)
    assert files == [tmp_path / "a/reviews.txt", tmp_path / "b/dump.bz2"]
    assert (tmp_path / "a/reviews.txt").read_bytes() == inner
    assert registry.calls == ["pkg-1.0.tar.gz", "pkg-1.0-py3-none-any.whl"]
    fetch.fetch(tmp_path, artefacts=arts, download=registry)
    assert len(registry.calls) == 2, "a complete cache must not download again"
    (tmp_path / "a/reviews.txt").unlink()
    fetch.fetch(tmp_path, artefacts=arts, download=registry)
    assert len(registry.calls) == 2, "a verified download in the cache is unpacked again, not fetched"
    assert (tmp_path / "a/reviews.txt").read_bytes() == inner
    fetch.fetch(tmp_path, artefacts=arts, download=registry, force=True)
    assert len(registry.calls) == 4


def test_fetch_refuses_a_download_with_a_wrong_sha256(tmp_path: Path) -> None:
    payload = _tar_gz({"x.txt": b"tampered"})
    art = _artefact("x-1.0.tar.gz", payload, (fetch.Member(("x.txt",), "x/x.txt", _sha(b"tampered")),),
                    sha="0" * 64)
    with pytest.raises(TataaError, match=r"x-1\.0\.tar\.gz has sha256 [0-9a-f]{64}, expected 0{64}; refusing"):
        fetch.fetch(tmp_path, artefacts=(art,), download=FakeRegistry({"x-1.0.tar.gz": payload}))
    assert not (tmp_path / "x/x.txt").exists()
    assert not (tmp_path / "downloads/x-1.0.tar.gz").exists()


def test_fetch_refuses_an_unpacked_file_with_a_wrong_sha256(tmp_path: Path) -> None:
    payload = _tar_gz({"x.txt": b"not what was pinned"})
    art = _artefact("x-1.0.tar.gz", payload, (fetch.Member(("x.txt",), "x/x.txt", _sha(b"what was pinned")),))
    with pytest.raises(TataaError, match=r"x\.txt has sha256 .*refusing"):
        fetch.fetch(tmp_path, artefacts=(art,), download=FakeRegistry({"x-1.0.tar.gz": payload}))
    assert not (tmp_path / "x/x.txt").exists()


def test_fetch_names_a_missing_member_and_a_missing_download(tmp_path: Path) -> None:
    payload = _zip({"a.txt": b"a"})
    art = _artefact("a-1.0.whl", payload, (fetch.Member(("b.txt",), "a/b.txt", _sha(b"a")),))
    with pytest.raises(TataaError, match=r"a-1\.0\.whl has no member 'b\.txt'"):
        fetch.fetch(tmp_path, artefacts=(art,), download=FakeRegistry({"a-1.0.whl": payload}))

    def saves_another_file(art: fetch.Artefact, dest: Path) -> None:
        (dest / "a-2.0.whl").write_bytes(payload)

    with pytest.raises(TataaError, match=r"did not produce a-1\.0\.whl \(got \['a-2\.0\.whl'\]\)"):
        fetch.fetch(tmp_path / "other", artefacts=(art,), download=saves_another_file)


def test_fetch_reads_a_debian_package(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text("Package: fake\nVersion: 1.0\nArchitecture: all\n"
                                         "Maintainer: t <t@t>\nDescription: fake\n")
    (root / "usr/lib/fake").mkdir(parents=True)
    (root / "usr/lib/fake/data.bin").write_bytes(b"\x00\x01rdata")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(tmp_path / "fake.deb")], check=True,
                   capture_output=True)
    deb = (tmp_path / "fake.deb").read_bytes()
    art = _artefact("fake_1.0_all.deb", deb, (fetch.Member(("usr/lib/fake/data.bin",), "d/data.bin",
                                                           _sha(b"\x00\x01rdata")),))
    fetch.fetch(tmp_path / "cache", artefacts=(art,), download=FakeRegistry({"fake_1.0_all.deb": deb}))
    assert (tmp_path / "cache/d/data.bin").read_bytes() == b"\x00\x01rdata"


def test_cached_file_names_the_fetch_command_when_data_is_missing_or_corrupt(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fetch.DATA_ENV, str(tmp_path))
    assert fetch.data_dir() == tmp_path
    with pytest.raises(TataaError, match=r"missing; run `python -m tataa\.eval\.datasets fetch`"):
        fetch.cached_file(datasets.MOVIE_REVIEWS)
    (tmp_path / "vader").mkdir()
    (tmp_path / datasets.MOVIE_REVIEWS).write_text("1\t2.0\tcorrupted\n")
    with pytest.raises(TataaError, match=r"pinned sha256 .*fetch --force"):
        fetch.cached_file(datasets.MOVIE_REVIEWS)
    with pytest.raises(TataaError, match="unknown data file"):
        fetch.cached_file("nope.txt")


def test_every_pinned_file_is_in_the_cache() -> None:
    """Set-up ran the fetch: each unpacked file is present with its pinned hash (checked independently here)."""
    for art in fetch.ARTEFACTS:
        assert len(art.sha256) == 64
        for member in art.members:
            path = fetch.cached_file(member.target)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == member.sha256


# ---------------------------------------------------------------------------------------------------- sentiment


def test_movie_reviews_are_the_10605_rated_snippets() -> None:
    reviews = datasets.movie_reviews()
    assert len(reviews) == 10_605  # the count the data set's README gives
    assert all(text and -4.0 <= r <= 4.0 for text, r in reviews)
    assert reviews[2] == ("Effective but too tepid biopic", pytest.approx(-0.6))


def test_sentiment_split_labels_by_sign_and_is_a_deterministic_partition() -> None:
    train, test = datasets.sentiment_split(seed=0)
    rating = {}
    for text, r in datasets.movie_reviews():
        rating.setdefault(text, r)
    nonzero_unique = {t for t, r in rating.items() if r != 0}
    assert len(train) + len(test) == len(nonzero_unique)
    assert {t for t, _ in train}.isdisjoint({t for t, _ in test})
    assert {t for t, _ in train} | {t for t, _ in test} == nonzero_unique
    assert all(y == (1 if rating[t] > 0 else -1) for t, y in train + test)
    assert len(test) / (len(train) + len(test)) == pytest.approx(0.2, abs=0.001)
    pos_train = sum(y > 0 for _, y in train) / len(train)
    pos_test = sum(y > 0 for _, y in test) / len(test)
    assert 0.45 < pos_test < 0.55 and pos_test == pytest.approx(pos_train, abs=0.002)  # stratified, near balanced
    assert datasets.sentiment_split(seed=0) == (train, test)
    _, other_test = datasets.sentiment_split(seed=1)
    assert {t for t, _ in other_test} != {t for t, _ in test}
    with pytest.raises(TataaError, match="test_fraction"):
        datasets.sentiment_split(test_fraction=1.0)


# ---------------------------------------------------------------------------------------------------- wikipedia


def test_wiki_markup_is_stripped_to_prose() -> None:
    source = (
        "{{Infobox thing|name=X|image=[[File:X.png]]}}\n"
        "'''Albedo''' is the [[reflection (physics)|fraction]] of [[sunlight]]s reflected"
        "<ref name=a>{{cite web|title=T}}</ref><ref name=a/> by a {{nowrap|surface body}}, about "
        "{{convert|30|km}} wide.<!-- hidden --> See [http://example.org the site] &amp; [[Help:Me]].\n"
        "{| class=wikitable\n|-\n| cell || cell\n{|\n| nested\n|}\n|}\n"
        "== History ==\n* A list item with <sub>2</sub> and [[Category:Physics]]\n"
        "<math>x^2</math>The end.\n"
        "== References ==\n{{reflist}}\nSome citation text\n=== Sub ===\nstill dropped\n"
        "== Legacy ==\nKept [[fr:Albédo]]again.\n__NOTOC__\n"
    )
    text = wiki_to_text(source)
    assert text.startswith("Albedo is the fraction of sunlights reflected by a surface body, about 30 km wide.")
    assert "See the site &." in text
    assert "\nHistory\n" in text and "A list item with 2 and" in text and "The end." in text
    assert "citation" not in text and "still dropped" not in text and "x^2" not in text
    assert "Legacy\n\nKept again." in text
    for junk in ("{{", "}}", "[[", "]]", "<ref", "cell", "nested", "hidden", "Infobox", "'''", "NOTOC", "http"):
        assert junk not in text, junk
    assert is_disambiguation("'''Ada''' may refer to:\n* [[Ada Lovelace]]\n{{disambiguation}}")
    assert not is_disambiguation(source)


def test_wikipedia_articles_are_plain_prose() -> None:
    articles = datasets.wikipedia_articles()
    titles = [t for t, _ in articles]
    assert len(articles) == 98 and len(set(titles)) == len(titles)
    assert titles[:3] == ["Anarchism", "Autism", "Albedo"]
    assert not any(t.endswith("(disambiguation)") for t in titles)
    body = dict(articles)
    assert body["Anarchism"].startswith("Anarchism is a political philosophy that advocates self-governed societies")
    chars = sum(len(t) for _, t in articles)
    assert chars > 2_000_000
    everything = "".join(t for _, t in articles)
    for junk in ("{{", "}}", "<ref", "{|", "'''", "&nbsp;", "[http"):
        assert everything.count(junk) == 0, junk
    assert everything.count("[[") < 10
    assert all(len(t) > 200 for _, t in articles)


# ---------------------------------------------------------------------------------------------------- austen


def test_austen_texts_are_the_six_novels() -> None:
    texts = datasets.austen_texts()
    assert list(texts) == ["Sense & Sensibility", "Pride & Prejudice", "Mansfield Park", "Emma", "Northanger Abbey",
                           "Persuasion"]
    assert texts["Pride & Prejudice"].startswith("PRIDE AND PREJUDICE")
    assert "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in " \
           "want of a wife." in texts["Pride & Prejudice"]
    assert texts["Emma"].startswith("EMMA")
    assert all(len(t) > 400_000 for t in texts.values())
    for text in texts.values():
        assert "\n\n\n" not in text and "  " not in text
        assert all(line for line in text.split("\n\n")[:-1])


def test_austen_split_holds_out_the_last_tenth_of_each_novel() -> None:
    texts = datasets.austen_texts()
    train, held = datasets.austen_split()
    assert list(train) == list(held) == list(texts)
    for title, text in texts.items():
        assert train[title] + held[title] == text
        assert train[title].endswith("\n\n"), "the cut falls on a paragraph boundary"
        assert 0.095 < len(held[title]) / len(text) < 0.11
    assert "Finis" in held["Emma"] or "FINIS" in held["Emma"].upper()
    assert datasets.austen_split() == (train, held)


# ---------------------------------------------------------------------------------------------------- digits


def test_digits_split_is_a_stratified_deterministic_partition() -> None:
    from sklearn.datasets import load_digits

    x_tr, y_tr, x_te, y_te = datasets.digits_split(seed=0)
    assert x_tr.shape == (1437, 1, 8, 8) and x_te.shape == (360, 1, 8, 8)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert x_tr.min() == 0.0 and x_tr.max() == 1.0
    digits = load_digits()
    full = sorted(map(bytes, np.concatenate([x_tr, x_te]).reshape(-1, 64) * 16))
    assert full == sorted(map(bytes, digits.images.astype(np.float32).reshape(-1, 64)))
    counts = Counter(y_te.tolist())
    assert set(counts) == set(range(10)) and max(counts.values()) - min(counts.values()) <= 2
    again = datasets.digits_split(seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(again, (x_tr, y_tr, x_te, y_te), strict=True))
    assert not np.array_equal(datasets.digits_split(seed=1)[3], y_te)


def test_info_command_counts_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert datasets.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "10605 snippets" in out and "98 articles" in out and "6 novels" in out and "1437 train / 360 test" in out


# ---------------------------------------------------------------------------------------------------- trained


def test_vit_digits_reproduces_its_recorded_accuracy() -> None:
    model = trained.load_vit_digits()
    recorded = trained.recorded_metrics(trained.VIT_DIGITS_DIR)
    _, _, x_te, y_te = datasets.digits_split(seed=0)
    n = recorded["subset_images"]
    assert trained.accuracy(model, x_te[:n], y_te[:n]) == recorded["subset_accuracy"]
    accuracy = trained.accuracy(model, x_te, y_te)
    assert accuracy == recorded["test_accuracy"] and recorded["test_images"] == len(x_te)
    assert accuracy >= 0.95
    assert model.config.image_size == 8 and model.config.num_channels == 1 and model.config.num_labels == 10


def test_gpt2_text_reproduces_its_recorded_perplexity() -> None:
    model, tokenizer = trained.load_gpt2_text()
    recorded = trained.recorded_metrics(trained.GPT2_TEXT_DIR)
    _, held = datasets.austen_split()
    windows = trained.heldout_windows(tokenizer, held, recorded["context"])
    assert windows.shape == (recorded["heldout_windows"], recorded["context"])
    assert windows.max() < model.config.vocab_size == len(tokenizer)
    n = recorded["subset_windows"]
    ppl = trained.perplexity(model, windows[:n])
    assert ppl == pytest.approx(recorded["subset_perplexity"], rel=1e-4)
    assert ppl < 0.05 * model.config.vocab_size, "far better than a uniform guess"
    paragraph = held["Persuasion"].split("\n\n")[3]
    ids = tokenizer(paragraph, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == paragraph
    assert len(ids) < len(paragraph) / 2.5, "BPE merges common words"


def test_token_windows_and_perplexity_follow_their_definitions() -> None:
    ids = np.arange(10)
    assert trained.token_windows(ids, 4).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(TataaError, match="context 1"):
        trained.token_windows(ids, 1)

    class Uniform:
        def __call__(self, input_ids):  # type: ignore[no-untyped-def]
            import torch

            return type("Out", (), {"logits": torch.zeros((*input_ids.shape, 7))})()

    assert trained.perplexity(Uniform(), np.zeros((3, 5), dtype=np.int64)) == pytest.approx(7.0)
    assert not math.isnan(trained.perplexity(Uniform(), np.zeros((1, 2), dtype=np.int64)))
