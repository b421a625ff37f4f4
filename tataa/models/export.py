"""ONNX export of zoo models (``torch.onnx.export(dynamo=True)``), cached on disk so tests and reports reuse it.

The cache lives in ``build/onnx`` under the repository (``TATAA_ONNX_CACHE`` overrides it); an export is keyed by
a hash of the model's name, config, weight origin, export options and the torch / transformers / onnxscript
versions. A JSON sidecar records how long the export took.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from tataa.errors import FrontendError
from tataa.models.zoo import ZooModel

EXPORT_FORMAT = 1
"""Bumped whenever the way zoo models are exported changes (invalidates cached files)."""


@dataclass(frozen=True)
class OnnxExport:
    """An exported ONNX file: where it is, how long the export took, and whether it came from the cache."""

    path: Path
    seconds: float
    cached: bool


def cache_dir() -> Path:
    """The folder holding cached ONNX exports."""
    env = os.environ.get("TATAA_ONNX_CACHE")
    if env:
        return Path(env)
    import tataa

    return Path(tataa.__file__).resolve().parent.parent / "build" / "onnx"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def cache_key(model: ZooModel, *, dynamic: bool = True) -> str:
    """The file stem of a model's cached export: its name and a hash of everything the export depends on."""
    material = {
        "name": model.name, "config": model.config, "origin": model.origin, "inputs": model.input_names,
        "outputs": model.output_names, "dynamic": {k: dict(v) for k, v in model.dynamic.items()} if dynamic else {},
        "max_seq": model.max_seq, "batch": model.batch, "format": EXPORT_FORMAT,
        "versions": [torch.__version__, _version("transformers"), _version("onnxscript"), _version("onnx")],
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{model.name}-{'dyn' if dynamic else 'static'}-{digest}"


def _export(model: ZooModel, dest: Path, dynamic: bool) -> None:
    args = model.example_inputs(seq=min(16, model.max_seq or 16))
    shapes = model.torch_dynamic_shapes() if dynamic else None
    sink = io.StringIO()
    # the exporter logs through `logging` (e.g. "torchvision is not installed"), outside the redirected streams
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(model.module, args, dynamo=True, dynamic_shapes=shapes, verbose=False,
                                        input_names=list(model.input_names), output_names=list(model.output_names))
        except Exception as e:  # the exporter raises many types; the log says why
            raise FrontendError(f"{model.name}: ONNX export failed: {e}\n{sink.getvalue()[-2000:]}") from None
        finally:
            logger.setLevel(level)
    if program is None:  # pragma: no cover - dynamo=True always returns a program
        raise FrontendError(f"{model.name}: torch.onnx.export returned no program")
    program.save(dest, external_data=False)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (so that parallel test workers export a model once)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, at worst two processes export the same model
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _recorded_seconds(sidecar: Path) -> float:
    try:
        return float(json.loads(sidecar.read_text())["export_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return float("nan")


def export_onnx(model: ZooModel, path: str | Path | None = None, *, dynamic: bool = True,
                cache: bool = True) -> OnnxExport:
    """The ONNX export of ``model`` (dynamic axes from ``model.dynamic`` unless ``dynamic=False``).

    The file is written to the cache (reused when present, unless ``cache=False``) and copied to ``path`` when
    one is given. A cached export reports the export time recorded when it was made.
    """
    folder = cache_dir()
    key = cache_key(model, dynamic=dynamic)
    target, sidecar = folder / f"{key}.onnx", folder / f"{key}.json"
    cached = cache and target.is_file()
    if not cached:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / f"{key}.lock"):
            cached = cache and target.is_file()  # another process may have exported it while we waited
            if not cached:
                tmp = folder / f"{key}.onnx.tmp{os.getpid()}"
                try:
                    t0 = time.perf_counter()
                    _export(model, tmp, dynamic)
                    seconds = time.perf_counter() - t0
                    sidecar.write_text(json.dumps({"model": model.name, "export_seconds": seconds,
                                                   "dynamic": dynamic, "torch": torch.__version__}, indent=1))
                    os.replace(tmp, target)  # last: a reader that sees the file also sees its sidecar
                finally:
                    tmp.unlink(missing_ok=True)
    if cached:
        seconds = _recorded_seconds(sidecar)
    if path is not None:
        dest = Path(path)
        if dest.resolve() != target.resolve():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, dest)
        target = dest
    return OnnxExport(target, seconds, cached)


__all__ = ["EXPORT_FORMAT", "OnnxExport", "cache_dir", "cache_key", "export_onnx"]
