"""Untrusted input into dangerous calls (reviewer/dataflow/), Python 3.12 f-strings on 3.11
(reviewer/pysource.py) and the taint analyzer; the grounding rule built on it is tested in
test_grounding_untainted.py."""

import ast
import textwrap

import pytest
from helpers import make_hunk
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.analyzers import HINT_SOURCES, analyze
from reviewer.analyzers.taint import taint_findings
from reviewer.backends.fake import FakeBackend
from reviewer.dataflow import LOCAL, PARAM, USER, analyze_source
from reviewer.pipeline import run_review
from reviewer.pysource import parse_python, rewrite_fstrings
from reviewer.types import Category, ParsedDiff, Severity

# -- pyparse ------------------------------------------------------------------------------

PEP701 = textwrap.dedent("""\
    def render(names, width):
        head = f'{', '.join(names)}'  # Python 3.12: the f-string's own quote inside a field
        body = (f"a{width!r:>{width}}"
                'plain'  # implicitly joined
                f'''tail
    {names[0]}''')
        return head + body
    """)


def test_python_312_fstrings_parse_and_keep_their_line_numbers() -> None:
    tree = parse_python(PEP701)
    assert tree is not None
    assert [(type(s).__name__, s.lineno) for s in ast.walk(tree) if isinstance(s, ast.stmt)] == [
        ("FunctionDef", 1), ("Assign", 2), ("Assign", 3), ("Return", 7)]
    rewritten = rewrite_fstrings(PEP701)
    assert rewritten.count("\n") == PEP701.count("\n")
    assert "__fstring__((', '.join(names)))" in rewritten
    assert "# Python 3.12" in rewritten  # comments are copied, quotes in them are not strings


def test_code_that_parses_is_not_rewritten_and_non_python_is_none() -> None:
    assert ast.dump(parse_python("x = f'{a}' 'b'\n")) == ast.dump(ast.parse("x = f'{a}' 'b'\n"))  # type: ignore[arg-type]
    assert parse_python("def f(:\n") is None
    assert parse_python("x = f'{unterminated\n") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="fr'\"{}()[]:!=#\\ \nabx,+", max_size=60))
def test_rewriting_any_text_never_raises(text: str) -> None:
    parse_python(text)  # a tree or None, never an exception
    analyze_source(text)


# -- taint ----------------------------------------------------------------------------------

def flows(body: str, header: str = "@app.route('/items/<id>', methods=['POST'])\ndef handler():\n") -> set[tuple[str, int]]:
    """(kind, line) of the user-input flows in a Flask handler whose body is `body` (line 3 on)."""
    report = analyze_source(header + textwrap.indent(textwrap.dedent(body), "    "))
    assert report is not None
    return {(f.kind, f.line) for s in report.scopes for f in s.flows if f.taint & USER}


def test_request_data_into_a_formatted_query_is_a_flow_but_a_bound_parameter_is_not() -> None:
    assert flows("""\
        name = request.args.get("name")
        cur.execute(f"SELECT * FROM users WHERE name = '{name}'")
        """) == {("sql", 4)}
    assert flows("""\
        name = request.args.get("name")
        cur.execute("SELECT * FROM users WHERE name = ?", (name,))
        """) == set()


@pytest.mark.parametrize("dataflow", [
    # the value read is dropped by list operations with constant indices
    "lst = ['safe', param, 'moresafe']\nlst.pop(0)\nbar = lst[1]",
    "lst = []\nlst.append('safe')\nlst.append(param)\nlst.append('moresafe')\nlst.pop(0)\nbar = lst[1]",
    # dict and config-parser entries with constant keys
    "m = {}\nm['a'] = 'a-Value'\nm['b'] = param\nbar = m['b']\nbar = m['a']",
    ("import configparser\nc = configparser.ConfigParser()\nc.add_section('s')\nc.set('s', 'a', 'v')\n"
     "c.set('s', 'b', param)\nbar = c.get('s', 'a')"),
    # conditions that fold to a constant
    "num = 106\nbar = 'safe' if (7 * 18) + num > 200 else param",
    "bar = 'This should never happen'\nif 'should' not in bar:\n    bar = param",
    ("guess = 'ABC'[1]\nmatch guess:\n    case 'A':\n        bar = param\n    case 'B':\n        bar = 'bob'\n"
     "    case _:\n        bar = param"),
    # a copy taken before the input was appended
    "s = ''\ncopy = s\ns += param\ncopy += 'ok'\nbar = copy",
])
def test_values_that_cannot_hold_the_input_reach_no_sink(dataflow: str) -> None:
    body = 'param = request.cookies.get("c")\n' + dataflow + "\neval(bar)\n"
    assert flows(body) == set()
    tainted = body.replace("eval(bar)", "eval(param)")
    assert {kind for kind, _ in flows(tainted)} == {"code"}


@pytest.mark.parametrize("dataflow", [
    "bar = param",
    "bar = 'x' + param",
    "s = 'help'\ns += param\ns += 'snapes on a plane'\nbar = s[4:-17]",
    "bar = param.split(' ')[0]",
    "lst = ['safe', param, 'moresafe']\nlst.pop(0)\nbar = lst[0]",
    "m = {'a': 'v', 'b': param}\nbar = m['b']",
    "import base64\nbar = base64.b64decode(base64.b64encode(param))",  # encoding is undone by decoding
    "import io\nbuf = io.StringIO()\nbuf.write(param)\nbar = buf.getvalue()",
    "import html\nbar = html.escape(param)",  # escaped for HTML, not for eval
    "bar = 'safe'\nif flag():\n    bar = param",  # one branch carries it
])
def test_values_that_may_hold_the_input_reach_the_sink(dataflow: str) -> None:
    body = 'param = request.form["p"]\n' + dataflow + "\neval(bar)\n"
    assert {kind for kind, _ in flows(body)} == {"code"}


def test_sanitizers_protect_only_the_sinks_they_are_for() -> None:
    escaped = 'import html\nbar = html.escape(request.args["u"])\n'
    assert flows(escaped + "return bar\n") == set()  # escaped HTML is safe to return
    assert {k for k, _ in flows(escaped + "return redirect(bar)\n")} == {"redirect"}
    quoted = "bar = request.args['u'].replace(\"'\", '&apos;')\n"
    assert flows(quoted + "root.xpath(f\"//user[@name='{bar}']\")\n") == set()
    assert {k for k, _ in flows(quoted + "os.system('ls ' + bar)\n")} == {"command"}


def test_a_content_check_that_leaves_guards_what_follows_but_a_presence_check_does_not() -> None:
    guarded = "name = request.args['f']\nif '../' in name:\n    return 'no'\nopen(name)\n"
    assert flows(guarded) == set()
    found = "q = request.query_string.decode()\nloc = q.find('x=')\nif loc == -1:\n    return 'no'\nopen(q[loc:])\n"
    assert {k for k, _ in flows(found)} == {"path"}
    assert {k for k, _ in flows("name = request.args['f']\nif not name:\n    return 'no'\nopen(name)\n")} == {"path"}


def test_a_fixed_routes_path_is_no_input_but_a_variable_ones_is() -> None:
    body = "parts = request.path.split('/')\nreturn parts[1]\n"
    assert flows(body, header="@app.route('/benchmark/x-00/T1')\ndef h():\n") == set()
    assert flows(body) == {("xss", 4)}


def test_returning_input_is_xss_only_from_a_route_handler() -> None:
    assert flows("return request.args['q']\n") == {("xss", 3)}
    assert flows("return request.args['q']\n", header="def helper():\n") == set()
    assert flows("resp = make_response(('ok', {'X-Value': request.args['q']}))\nreturn resp\n") == set()


def test_parameters_taint_as_param_and_request_sources_as_user() -> None:
    report = analyze_source("def run(cmd):\n    subprocess.run(cmd, shell=True)\n")
    assert report is not None
    (flow,) = [f for s in report.scopes for f in s.flows]
    assert (flow.kind, flow.taint) == ("command", PARAM)
    cli = analyze_source("def main():\n    subprocess.run(sys.argv[1], shell=True)\n")
    assert cli is not None
    assert [(f.kind, f.taint) for s in cli.scopes for f in s.flows] == [("command", LOCAL)]  # a flow, no finding


def test_xml_parsing_is_a_sink_only_with_external_entities_on() -> None:
    plain = "doc = xml.dom.minidom.parseString(request.data)\n"
    assert flows(plain) == set()
    risky = ("parser = xml.sax.make_parser()\nparser.setFeature(xml.sax.handler.feature_external_ges, True)\n"
             "doc = xml.dom.minidom.parseString(request.data, parser)\n")
    assert flows(risky) == {("xml", 5)}


def test_query_results_are_stored_data_not_input() -> None:
    body = "rows = cur.execute(f\"SELECT * FROM t WHERE a = '{request.args['a']}'\")\nreturn str(rows.fetchall())\n"
    assert flows(body) == {("sql", 3)}  # the injection, not an XSS on the rows


def test_scopes_nest_and_an_unanalysable_function_reports_so(monkeypatch) -> None:
    report = analyze_source("def outer():\n    def inner(x):\n        eval(x)\n    return 1\n")
    assert report is not None
    assert report.scope_at(3).name == "inner" and report.scope_at(4).name == "outer"  # type: ignore[union-attr]
    assert report.scope_at(3).analyzed  # type: ignore[union-attr]

    def boom(self, *args):
        raise RecursionError

    monkeypatch.setattr("reviewer.dataflow.walker._Function.statement", boom)
    broken = analyze_source("def f():\n    x = 1\n")
    assert broken is not None and not broken.scope_at(2).analyzed  # type: ignore[union-attr]


# -- the analyzer ---------------------------------------------------------------------------

HANDLER = textwrap.dedent("""\
    from flask import request

    @app.route('/run', methods=['POST'])
    def run():
        code = request.form['code']
        return str(eval(code))
    """)


def test_the_analyzer_reports_user_flows_on_whole_files_only() -> None:
    found = taint_findings("app.py", HANDLER, whole_file=True)
    assert {f.title for f in found} == {"Untrusted input is executed as code", "Untrusted input is returned unescaped"}
    (f,) = [f for f in found if "code" in f.title]
    assert (f.line, f.category, f.severity, f.source) == (6, Category.SECURITY, Severity.HIGH, "taint")
    assert "executed as code" in f.title and "`eval`" in f.message
    assert taint_findings("app.py", HANDLER, whole_file=False) == []
    assert taint_findings("lib.py", "def f(code):\n    eval(code)\n", whole_file=True) == []  # a parameter: no finding
    assert taint_findings("cli.py", "import sys\nopen(sys.argv[1])\n", whole_file=True) == []  # the operator's own


def _added_file(path: str, text: str) -> ParsedDiff:
    lines = tuple(text.splitlines())
    hunk = make_hunk(path=path, removed=(), added=lines, before=(), after=(), start=1)
    return ParsedDiff((hunk,), sources={path: lines})


def test_analyze_runs_taint_on_whole_new_files_and_the_review_does_not_show_it_to_the_model(config) -> None:
    parsed = _added_file("app.py", HANDLER)
    hints = analyze(parsed)
    assert "taint" in {f.source for f in hints} and "taint" not in HINT_SOURCES
    backend = FakeBackend(responses=[{"analysis": "", "findings": []}])
    review = run_review(parsed, backend, config, cache=None, hints=hints)
    assert "executed as code" not in backend.calls[0][1]["content"]
    assert any(f.source == "taint" and f.line == 6 for f in review.findings)


# -- the analysis on hard cases ----------------------------------------------------------

def test_pathological_code_is_analysed_in_bounded_time_and_memory() -> None:
    huge = "def f():\n    s = 'a' * 10**9\n    t = '%999999999d' % 1\n    u = 'x'.replace('x', 'y' * 5000)\n    eval(s)\n"
    assert analyze_source(huge) is not None  # nothing is folded into a gigabyte string
    nested = "def f(x):\n" + "".join("    " * (d + 1) + f"for i{d} in x:\n" for d in range(12)) + "    " * 13 + "eval(x)\n"
    report = analyze_source(nested)
    assert report is not None and report.scope_at(14).flows  # 12 nested loops: linear, not 2**12 passes
    parse_python("x = " + "(" * 5000 + ")" * 5000)  # too deep for CPython's parser: None, not an exception


@pytest.mark.parametrize("body", [
    # an equality check with a literal: inside the branch the value is that literal
    "name = request.form['user']\nif name == 'admin':\n    os.system('id ' + name)\n",
    # also for an item of the request itself, read again in the branch
    "if request.form['user'] == 'admin':\n    session['user'] = request.form['user']\n",
    "if 'admin' == request.args.get('u') and request.form['mode'] == 'fast':\n    eval(request.form['mode'])\n",
    # the else side of `!=`, and one of several literals
    "name = request.form['user']\nif name != 'admin':\n    return 'no'\nelse:\n    open(name)\n",
    "kind = request.args['k']\nif kind in ('png', 'jpg'):\n    open('img.' + kind)\n",
])
def test_a_branch_knows_what_its_equality_check_compared_with(body: str) -> None:
    assert flows(body) == set()


@pytest.mark.parametrize("body", [
    # what the check does not pin down keeps its taint
    "name = request.form['user']\nif name != 'admin':\n    os.system('id ' + name)\n",
    "name = request.form['user']\nif name == 'admin' or ok():\n    os.system('id ' + name)\n",
    "name = request.form['user']\nif name.lower() == 'admin':\n    os.system('id ' + name)\n",
    "name = request.form['user']\nif name == other:\n    os.system('id ' + name)\n",
    # after the branch, or after the name is rebound in it
    "name = request.form['user']\nif name == 'admin':\n    pass\nos.system('id ' + name)\n",
    "name = request.form['user']\nif name == 'admin':\n    name = request.args['n']\n    os.system('id ' + name)\n",
    "form = request.form\nif form['user'] == 'admin':\n    form = request.args\n    os.system('id ' + form['user'])\n",
    # or after what the chain reads is changed in place
    ("form = {'user': request.form['user']}\nif form['user'] == 'admin':\n    form['user'] = request.args['n']\n"
     "    os.system('id ' + form['user'])\n"),
    ("form = {'user': request.form['user']}\nif form['user'] == 'admin':\n    form.update({'user': request.args['n']})\n"
     "    os.system('id ' + form['user'])\n"),
])
def test_an_equality_check_narrows_nothing_else(body: str) -> None:
    assert flows(body) != set()
