import pytest
from helpers import make_hunk

from reviewer.trivial import behaviour_preserving

OLD = ('    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))', "    return cur.fetchone()")


def test_consistent_rename_is_recognised():
    new = ('    cursor = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))', "    return cursor.fetchone()")
    reason = behaviour_preserving(make_hunk(removed=OLD, added=new, after=()))
    assert reason == "behaviour-preserving change (rename cur → cursor)"


def test_comment_and_whitespace_only():
    hunk = make_hunk(removed=("    x = f(a)  # old note",), added=("    x = f( a )  # new note",))
    assert "whitespace or comments" in behaviour_preserving(hunk)


@pytest.mark.parametrize(
    "removed, added",
    [
        (("    x = a + b",), ("    x = a - b",)),                 # operator change
        (("    for i in range(n):",), ("    for i in range(n + 1):",)),  # off-by-one
        (("    x = a + b",), ("    x = b + b",)),                 # two names merged into one
        (("    x = f(a, b)",), ("    x = f(b, a)",)),            # swapped arguments
        (("    if x:",), ("    while x:",)),                     # keyword change
        (("    x = 'a'",), ("    x = 'b'",)),                   # literal change
        (("    x = 1",), ("    x = 1", "    y = 2")),            # added statement
        (("    return x",), ("return x",)),                      # python indentation change
    ],
)
def test_behaviour_changes_are_not_trivial(removed, added):
    assert behaviour_preserving(make_hunk(removed=removed, added=added, before=(), after=())) is None


def test_rename_with_old_name_still_used_nearby_is_not_trivial():
    new = ('    cursor = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))',)
    hunk = make_hunk(removed=OLD[:1], added=new, after=("    return cur.fetchone()",))
    assert behaviour_preserving(hunk) is None


def test_rename_to_a_name_already_in_use_is_not_trivial():
    hunk = make_hunk(removed=("    total = a",), added=("    user_id = a",))
    assert behaviour_preserving(hunk) is None


def test_pure_additions_and_deletions_go_to_the_model():
    assert behaviour_preserving(make_hunk(removed=())) is None
    assert behaviour_preserving(make_hunk(added=())) is None
