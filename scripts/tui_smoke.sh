#!/usr/bin/env bash
# Smoke test of `reviewer tui` in a real terminal: tmux runs the app on a throwaway
# repository (REVIEWER_BACKEND=fake, so no model is needed), sends keys, captures the
# pane, and checks that the app started, showed findings and quit with status 0, and
# that the repository is exactly as it was (the TUI writes nothing unless told to).
#
#   scripts/tui_smoke.sh            # uses .venv/bin/python, else python3
#   PYTHON=/path/to/python scripts/tui_smoke.sh
#   KEEP=1 scripts/tui_smoke.sh     # keep the temp dir (captures are in it)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v tmux >/dev/null 2>&1; then
    echo "tui_smoke: tmux is needed to run the TUI in a real (pseudo) terminal and read its screen back;" >&2
    echo "           install it (apt-get install tmux / brew install tmux / dnf install tmux) and re-run." >&2
    exit 2
fi
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x "$here/.venv/bin/python" ]; then PY="$here/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tui-smoke.XXXXXX")"
session="reviewer-smoke-$$"
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "tui_smoke: kept $work"; fi
}
trap cleanup EXIT
fail() { echo "tui_smoke: FAIL: $*" >&2; echo "--- last capture ---" >&2; cat "$work/last.txt" >&2 2>/dev/null || true; exit 1; }

# -- a repository with one staged change the fake model flags (SQL built with an f-string)
repo="$work/repo"
mkdir -p "$repo/app"
git -C "$repo" init -q -b main
cat > "$repo/app/users.py" <<'PYEOF'
import sqlite3


def connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path)


def get_user(db: sqlite3.Connection, user_id: str) -> tuple | None:
    cur = db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))
    return cur.fetchone()
PYEOF
git -C "$repo" add -A
git -C "$repo" -c user.name=smoke -c user.email=smoke@example.com commit -qm init
sed -i.bak 's/db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))/db.execute(f"SELECT id, name, email FROM users WHERE id = {user_id}")/' "$repo/app/users.py"
rm -f "$repo/app/users.py.bak"
git -C "$repo" add app/users.py
status_before="$(git -C "$repo" status --porcelain)"
sum_before="$(cd "$repo" && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)"

# -- `reviewer tui` once the CLI has it; until then the module's own add_parser/run
if (cd "$repo" && "$PY" -m reviewer tui --help >/dev/null 2>&1); then
    cmd=("$PY" -m reviewer tui --staged)
else
    cmd=("$PY" -c 'import argparse, sys; from pathlib import Path; from reviewer import tui
p = argparse.ArgumentParser(prog="reviewer"); tui.add_parser(p.add_subparsers(dest="command"))
sys.exit(tui.run(p.parse_args(["tui", *sys.argv[1:]]), Path.cwd()))' --staged)
fi
printf -v quoted '%q ' "${cmd[@]}"
tmux new-session -d -s "$session" -x 100 -y 30 \
    "cd $(printf %q "$repo") && env NO_COLOR=1 REVIEWER_BACKEND=fake REVIEWER_CACHE_DIR=$(printf %q "$work/cache") $quoted; echo \$? > $(printf %q "$work/exit"); sleep 0.5"

capture() { tmux capture-pane -p -t "$session" > "$work/last.txt" 2>/dev/null || true; cat "$work/last.txt"; }
wait_for() {  # wait_for TEXT SECONDS
    local deadline=$((SECONDS + $2))
    until capture | grep -qF -- "$1"; do
        [ -f "$work/exit" ] && fail "the app ended early (exit $(cat "$work/exit")) while waiting for '$1'"
        [ $SECONDS -ge $deadline ] && fail "no '$1' on screen after $2 s"
        sleep 0.2
    done
}

wait_for "1 of 1 hunks reviewed" 60        # started and finished the review
wait_for "SQL built with string formatting" 5   # ... and shows the finding
capture > "$work/findings.txt"
tmux send-keys -t "$session" n; sleep 0.3
tmux send-keys -t "$session" '?'; wait_for "reviewer — keys" 5
capture > "$work/help.txt"
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" a; wait_for "no suggested change" 5   # the fake gives none: nothing to apply
tmux send-keys -t "$session" q
for _ in $(seq 1 50); do [ -f "$work/exit" ] && break; sleep 0.2; done
[ -f "$work/exit" ] || fail "the app did not quit on q"
code="$(cat "$work/exit")"
[ "$code" = "0" ] || fail "the app exited with status $code"

status_after="$(git -C "$repo" status --porcelain)"
sum_after="$(cd "$repo" && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)"
[ "$status_after" = "$status_before" ] || fail "git status changed: '$status_before' -> '$status_after'"
[ "$sum_after" = "$sum_before" ] || fail "files in the repository changed"

echo "=== screen with findings ==="
cat "$work/findings.txt"
echo "=== help screen ==="
cat "$work/help.txt"
echo "tui_smoke: OK (started, showed findings, quit with 0; git status unchanged: '${status_after}')"
