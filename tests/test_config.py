from pathlib import Path

import pytest

from reviewer.config import Config, load_config
from reviewer.errors import ReviewerError
from reviewer.types import Category, Severity


def test_defaults(tmp_path):
    c = load_config(tmp_path, {}, {})
    assert c == Config()
    assert c.model == "qwen2.5-coder-1.5b" and c.fail_on == Severity.HIGH and c.backend == "llama"


def test_precedence_file_env_flags(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.reviewer]\nmodel = "from-file"\nctx = 2048\nfail-on = "medium"\nexclude = ["docs/*"]\n'
    )
    c = load_config(tmp_path, {}, {})
    assert (c.model, c.ctx, c.fail_on, c.exclude) == ("from-file", 2048, Severity.MEDIUM, ("docs/*",))
    c = load_config(tmp_path, {"REVIEWER_MODEL": "from-env", "REVIEWER_CTX": "8192"}, {})
    assert (c.model, c.ctx) == ("from-env", 8192)
    c = load_config(tmp_path, {"REVIEWER_MODEL": "from-env"}, {"model": "from-flag", "ctx": None})
    assert (c.model, c.ctx) == ("from-flag", 2048)


def test_dot_reviewer_toml_wins_over_pyproject_in_same_dir(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.reviewer]\nmodel = "pyproject"\n')
    (tmp_path / ".reviewer.toml").write_text('model = "dotfile"\n')
    assert load_config(tmp_path, {}, {}).model == "dotfile"


def test_config_found_from_subdirectory_but_not_beyond_repo_root(tmp_path):
    (tmp_path / ".reviewer.toml").write_text('model = "outer"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    assert load_config(repo / "src", {}, {}).model == "qwen2.5-coder-1.5b"
    (repo / ".reviewer.toml").write_text('model = "inner"\n')
    assert load_config(repo / "src", {}, {}).model == "inner"


def test_pyproject_without_table_is_ignored(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(tmp_path, {}, {}) == Config()


def test_value_parsing(tmp_path):
    c = load_config(tmp_path, {"REVIEWER_CATEGORIES": "bug, security", "REVIEWER_FAIL_ON": "never",
                               "REVIEWER_CACHE": "false", "REVIEWER_INCLUDE": "src/*,lib/*"}, {})
    assert c.categories == (Category.BUG, Category.SECURITY)
    assert c.fail_on is None and c.cache is False and c.include == ("src/*", "lib/*")


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"REVIEWER_FAIL_ON": "sometimes"}, "fail-on"),
        ({"REVIEWER_CATEGORIES": "bug,typo"}, "unknown category"),
        ({"REVIEWER_CTX": "big"}, "ctx"),
        ({"REVIEWER_BACKEND": "gpt"}, "backend"),
    ],
)
def test_bad_values_name_the_setting(tmp_path, env, needle):
    with pytest.raises(ReviewerError, match=needle):
        load_config(tmp_path, env, {})


def test_unknown_key_in_file_is_an_error(tmp_path):
    (tmp_path / ".reviewer.toml").write_text('modle = "x"\n')
    with pytest.raises(ReviewerError, match="unknown setting 'modle'"):
        load_config(tmp_path, {}, {})


def test_broken_toml_is_a_one_line_error(tmp_path):
    (tmp_path / ".reviewer.toml").write_text("model = \n")
    with pytest.raises(ReviewerError) as err:
        load_config(tmp_path, {}, {})
    assert "\n" not in str(err.value)


def test_unrelated_env_is_ignored(tmp_path):
    assert load_config(tmp_path, {"REVIEWER_API_KEY": "secret", "REVIEWER_SOMETHING": "x"}, {}) == Config()


def test_explicit_config_file(tmp_path):
    f = tmp_path / "custom.toml"
    f.write_text('min_severity = "medium"\n')
    assert load_config(Path("/"), {}, {}, f).min_severity == Severity.MEDIUM
    with pytest.raises(ReviewerError, match="not found"):
        load_config(Path("/"), {}, {}, tmp_path / "missing.toml")
