"""Acquisition of the evaluation data: registry downloads pinned by sha256, unpacked once into a local cache.

Three artefacts come from package registries with their ordinary clients, without installing anything:

* the ``vaderSentiment`` 3.3.2 source distribution (``pip download``), whose nested
  ``additional_resources/hutto_ICWSM_2014.tar.gz`` holds the human-rated movie-review snippets;
* the ``gensim`` 4.4.0 wheel (``pip download``, pinned to one platform tag so every machine gets the same file),
  whose test data holds a shortened Wikipedia dump;
* the Debian package ``r-cran-janeaustenr`` 1.0.0-1 (``apt-get download``, unpacked with ``dpkg-deb -x``), whose
  R lazy-load database holds Jane Austen's six novels.

Each download and each file taken out of it is checked against a pinned sha256. The cache is ``build/data`` in
the repository, or the folder named by ``$TATAA_DATA``.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tataa.errors import TataaError

DATA_ENV = "TATAA_DATA"
"""Environment variable naming the data cache (default: ``build/data`` in the repository)."""

FETCH_COMMAND = "python -m tataa.eval.datasets fetch"
"""The command that fills the cache."""


@dataclass(frozen=True)
class Member:
    """One file taken out of an artefact.

    ``path`` walks into the artefact: each step but the last names an archive inside the previous one (a tar, a
    zip or a Debian package); the last step names the file. ``target`` is its path in the cache.
    """

    path: tuple[str, ...]
    target: str
    sha256: str


@dataclass(frozen=True)
class Artefact:
    """A file fetched from a package registry: what its client saves, its pinned hash, and the files used from it.

    ``command`` is the client's argument list; ``{python}`` stands for this interpreter, ``{dest}`` for the folder
    the file is saved into.
    """

    name: str
    filename: str
    sha256: str
    command: tuple[str, ...]
    members: tuple[Member, ...]


ARTEFACTS: tuple[Artefact, ...] = (
    Artefact(
        name="vaderSentiment 3.3.2 (sdist, PyPI)",
        filename="vaderSentiment-3.3.2.tar.gz",
        sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
        command=("{python}", "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                 "--dest", "{dest}", "vaderSentiment==3.3.2"),
        members=(Member(path=("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
                              "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"),
                        target="vader/movieReviewSnippets_GroundTruth.txt",
                        sha256="c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"),),
    ),
    Artefact(
        name="gensim 4.4.0 (wheel, PyPI)",
        filename="gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        sha256="91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
        command=("{python}", "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                 "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp",
                 "--abi", "cp311", "--dest", "{dest}", "gensim==4.4.0"),
        members=(Member(path=("gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-"
                              "shortened.bz2",),
                        target="wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
                        sha256="a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d"),),
    ),
    Artefact(
        name="r-cran-janeaustenr 1.0.0-1 (Debian)",
        filename="r-cran-janeaustenr_1.0.0-1_all.deb",
        sha256="df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        command=("apt-get", "download", "--quiet", "r-cran-janeaustenr=1.0.0-1"),
        members=(Member(path=("usr/lib/R/site-library/janeaustenr/data/Rdata.rdb",),
                        target="janeaustenr/Rdata.rdb",
                        sha256="8fb5198960d0da724b1562f96e4221e5c1b41ff455000280b02c55980c3d8f21"),
                 Member(path=("usr/lib/R/site-library/janeaustenr/data/Rdata.rdx",),
                        target="janeaustenr/Rdata.rdx",
                        sha256="cab8cbe4ce965d3b42b35c03383bafccc0eb78151f70e4748ead45270470c22f")),
    ),
)
"""Every artefact the evaluation data comes from."""

Downloader = Callable[[Artefact, Path], None]
"""Saves ``artefact.filename`` into the given folder (the registry client by default; tests pass fakes)."""


def data_dir() -> Path:
    """The data cache: ``$TATAA_DATA`` if set, else ``build/data`` in the repository."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "build" / "data"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, sha256: str, what: str) -> None:
    """Raise a TataaError unless ``path`` exists and has this sha256."""
    if not path.is_file():
        raise TataaError(f"{what}: {path} is missing")
    got = sha256_of(path)
    if got != sha256:
        raise TataaError(f"{what}: {path} has sha256 {got}, expected {sha256}; refusing it")


def registry_download(artefact: Artefact, dest: Path) -> None:
    """Run the artefact's registry client (pip or apt-get) to save its file into ``dest``."""
    argv = [a.replace("{python}", sys.executable).replace("{dest}", str(dest)) for a in artefact.command]
    if shutil.which(argv[0]) is None and not Path(argv[0]).is_file():
        raise TataaError(f"{artefact.name}: cannot download it, {argv[0]!r} is not available")
    done = _run(argv, dest, artefact.name)
    if done.returncode != 0 and argv[0] == "apt-get" and hasattr(os, "geteuid") and os.geteuid() == 0:
        # a fresh machine has no package lists yet: refresh them once (root only) and try again
        _run(["apt-get", "update", "-qq"], dest, artefact.name)
        done = _run(argv, dest, artefact.name)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-1500:]
        hint = "\n(run `apt-get update` first if the package is not found)" if argv[0] == "apt-get" else ""
        raise TataaError(f"{artefact.name}: `{' '.join(argv)}` failed (exit {done.returncode}):\n{tail}{hint}")


def _run(argv: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    """Run a registry client, its output captured."""
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        raise TataaError(f"{what}: `{' '.join(argv)}` did not finish in 900 s") from None


def fetch(root: Path | None = None, *, force: bool = False, artefacts: Iterable[Artefact] = ARTEFACTS,
          download: Downloader = registry_download, log: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Download, verify and unpack every artefact into the cache ``root`` (default ``data_dir()``).

    Artefacts whose files are already cached with the right hashes are skipped unless ``force``. A download or an
    unpacked file with a wrong sha256 is deleted and refused with a TataaError. Returns the cached files.
    """
    root = data_dir() if root is None else Path(root)
    out: list[Path] = []
    for art in artefacts:
        targets = [root / m.target for m in art.members]
        if not force and all(_has_hash(t, m.sha256) for t, m in zip(targets, art.members, strict=True)):
            log(f"{art.name}: cached")
            out += targets
            continue
        archive = _obtain(art, root / "downloads", force, download, log)
        for member, target in zip(art.members, targets, strict=True):
            _unpack(archive, member, target, art.name)
        log(f"{art.name}: unpacked {len(targets)} file(s)")
        out += targets
    return out


def cached_file(target: str, root: Path | None = None) -> Path:
    """The cached file ``target`` (a ``Member.target``), its hash checked; a TataaError saying how to fetch it."""
    root = data_dir() if root is None else Path(root)
    member = next((m for a in ARTEFACTS for m in a.members if m.target == target), None)
    if member is None:
        raise TataaError(f"unknown data file {target!r}")
    path = root / target
    if not path.is_file():
        raise TataaError(f"evaluation data {path} is missing; run `{FETCH_COMMAND}` (set ${DATA_ENV} to change "
                         "where it goes)")
    if not _has_hash(path, member.sha256):
        raise TataaError(f"evaluation data {path} does not have its pinned sha256 {member.sha256}; "
                         f"run `{FETCH_COMMAND} --force`")
    return path


# ---------------------------------------------------------------------------------------------------- helpers

_HASHED: dict[tuple[Path, int, int], str] = {}


def _has_hash(path: Path, sha256: str) -> bool:
    """Whether ``path`` is a file with this sha256 (memoised on path, size and mtime)."""
    if not path.is_file():
        return False
    st = path.stat()
    key = (path.resolve(), st.st_size, st.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = sha256_of(path)
    return _HASHED[key] == sha256


def _obtain(art: Artefact, downloads: Path, force: bool, download: Downloader, log: Callable[[str], None]) -> Path:
    """The verified download of ``art`` in ``downloads`` (fetched unless a good copy is there)."""
    downloads.mkdir(parents=True, exist_ok=True)
    path = downloads / art.filename
    if not force and _has_hash(path, art.sha256):
        return path
    log(f"{art.name}: downloading")
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".fetch-") as tmp:
        download(art, Path(tmp))
        got = Path(tmp) / art.filename
        if not got.is_file():
            saved = sorted(p.name for p in Path(tmp).iterdir())
            raise TataaError(f"{art.name}: the download did not produce {art.filename} (got {saved or 'nothing'})")
        verify(got, art.sha256, art.name)
        os.replace(got, path)
    return path


def _unpack(archive: Path, member: Member, target: Path, what: str) -> None:
    """Copy ``member`` out of ``archive`` to ``target``, refusing it unless it has its pinned sha256."""
    data = _read_nested(archive.name, archive.read_bytes(), member.path, what)
    got = hashlib.sha256(data).hexdigest()
    if got != member.sha256:
        raise TataaError(f"{what}: {'!'.join(member.path)} has sha256 {got}, expected {member.sha256}; refusing it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _read_nested(name: str, data: bytes, path: tuple[str, ...], what: str) -> bytes:
    """The bytes at ``path`` inside the archive ``data`` called ``name`` (nested archives allowed)."""
    for step in path:
        data = _read_member(name, data, step, what)
        name = step
    return data


def _read_member(name: str, data: bytes, member: str, what: str) -> bytes:
    """One file of a tar, zip or Debian package held in memory."""
    try:
        if name.endswith(".deb"):
            return _read_deb(data, member, what)
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return z.read(member)
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except KeyError:
        raise TataaError(f"{what}: {name} has no member {member!r}") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise TataaError(f"{what}: {name} is not a readable archive: {e}") from None


def _read_deb(data: bytes, member: str, what: str) -> bytes:
    """One file of a Debian package, unpacked with ``dpkg-deb -x``."""
    if shutil.which("dpkg-deb") is None:
        raise TataaError(f"{what}: dpkg-deb is needed to unpack the Debian package")
    with tempfile.TemporaryDirectory(prefix="tataa-deb-") as tmp:
        deb = Path(tmp) / "package.deb"
        deb.write_bytes(data)
        done = subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "root")], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise TataaError(f"{what}: dpkg-deb -x failed: {done.stderr.strip()[-500:]}")
        path = Path(tmp) / "root" / member
        if not path.is_file():
            raise KeyError(member)
        return path.read_bytes()


__all__ = ["ARTEFACTS", "DATA_ENV", "FETCH_COMMAND", "Artefact", "Downloader", "Member", "cached_file", "data_dir",
           "fetch", "registry_download", "sha256_of", "verify"]
