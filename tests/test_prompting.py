from helpers import make_hunk

from reviewer.prompting import load_template, render_code, review_messages, review_schema
from reviewer.types import Category


def test_template_has_version_and_both_sections():
    t = load_template("review")
    assert t.name == "review" and t.version >= 1
    assert "{{code}}" in t.user and t.system
    assert t.cache_tag == f"review-v{t.version}"


def test_render_code_numbers_new_lines_and_marks_changes():
    code = render_code(make_hunk(start=10))
    rows = code.splitlines()
    assert rows[0] == "  10 | def get_user(db, user_id):"
    assert rows[1].startswith("-    | ")  # removed lines carry no new-file number
    assert rows[2].startswith("+ 11 | ") and "{user_id}" in rows[2]
    assert rows[3] == "  12 |     return cur.fetchone()"


def test_messages_show_old_and_new_and_path():
    messages = review_messages(make_hunk(), tuple(Category))
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "app/users.py" in user and "(python)" in user
    assert "(user_id,)" in user and "{user_id}" in user
    assert "{{" not in user and "report only" not in user


def test_category_focus_is_stated():
    user = review_messages(make_hunk(), (Category.SECURITY,))[1]["content"]
    assert "report only security problems" in user


def test_code_fences_in_code_cannot_close_the_prompt_fence():
    hunk = make_hunk(added=("x = '```'",))
    user = review_messages(hunk, tuple(Category))[1]["content"]
    assert user.count("```") == 2


def test_long_lines_are_cut():
    hunk = make_hunk(added=("x = '" + "a" * 5000 + "'",))
    assert max(len(r) for r in render_code(hunk).splitlines()) < 300


def test_schema_puts_reasoning_before_findings():
    schema = review_schema()
    assert list(schema["properties"]) == ["analysis", "findings"]
    item = schema["properties"]["findings"]["items"]
    assert item["properties"]["category"]["enum"] == ["bug", "security", "performance", "style"]


def test_enclosing_definition_prefers_the_function_shown_in_the_hunk():
    from dataclasses import replace

    from reviewer.prompting import enclosing_definition

    hunk = replace(make_hunk(), section="def connect(path):")
    assert enclosing_definition(hunk) == "def get_user(db, user_id):"
    no_def = replace(make_hunk(before=("    x = 1",)), section="def outer():")
    assert enclosing_definition(no_def) == "def outer():"
    from_context = replace(no_def, context_before=((5, "class Repo:"), (6, "    def load(self):")))
    assert enclosing_definition(from_context) == "def load(self):"
