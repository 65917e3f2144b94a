"""A real editor: headless Neovim runs the config from docs/editors.md, attaches `reviewer lsp`, saves, reads vim.diagnostic.get()."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DRIVER = """
vim.cmd("edit " .. os.getenv("REVIEWER_TEST_FILE"))
vim.wait(5000, function() return #vim.lsp.buf_get_clients(0) > 0 end, 50)
vim.api.nvim_buf_set_lines(0, 2, 2, false, { '    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")' })
vim.cmd("write")
vim.wait(60000, function() return #vim.diagnostic.get(0) > 0 end, 100)
local out = {}
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(out, { lnum = d.lnum, source = d.source, code = d.code, severity = d.severity, message = d.message })
end
local f = io.open(os.getenv("REVIEWER_TEST_OUT"), "w")
f:write(vim.fn.json_encode({ clients = #vim.lsp.buf_get_clients(0), diagnostics = out }))
f:close()
vim.cmd("qa!")
"""


def docs_config() -> str:
    """The Neovim 0.7 config of docs/editors.md, as a user copies it."""
    text = (ROOT / "docs" / "editors.md").read_text()
    section = text[text.index("### Neovim 0.7"):]
    match = re.search(r"```lua\n(.*?)```", section, re.DOTALL)
    assert match, "docs/editors.md has no lua block under 'Neovim 0.7'"
    return match.group(1)


@pytest.mark.skipif(shutil.which("nvim") is None, reason="Neovim is not installed (.ci/run installs it)")
def test_neovim_shows_the_servers_diagnostic_after_a_save(make_repo: Callable[[dict[str, str]], Path],
                                                         tmp_path: Path) -> None:
    repo = make_repo({"app.py": "def get_user(db, user_id):\n    cur = db.cursor()\n    return cur.fetchone()\n"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "reviewer"  # `reviewer` on PATH, as after install.sh
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m reviewer \"$@\"\n")
    shim.chmod(0o755)
    (tmp_path / "init.lua").write_text(docs_config())
    (tmp_path / "driver.lua").write_text(DRIVER)
    out = tmp_path / "out.json"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "REVIEWER_BACKEND": "fake", "REVIEWER_EDITOR_DEBOUNCE": "0.05", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_STATE_HOME": str(tmp_path / "xdg"),
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "REVIEWER_TEST_FILE": str(repo / "app.py"),
           "REVIEWER_TEST_OUT": str(out)}
    proc = subprocess.run(["nvim", "--headless", "-i", "NONE", "-u", str(tmp_path / "init.lua"),
                           "-c", f"luafile {tmp_path / 'driver.lua'}"],
                          check=False, cwd=repo, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["clients"] == 1
    assert [(d["lnum"], d["source"], d["code"], d["severity"]) for d in result["diagnostics"]] == [
        (2, "reviewer", "security", 1)]  # 1 = vim.diagnostic.severity.ERROR
    assert result["diagnostics"][0]["message"].startswith("SQL built with string formatting")
