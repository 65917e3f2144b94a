"""The batchN rows of bench/speed.py: a fresh cache per row, the decode profile, findings against the pipeline row."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def time_decodes(profile: dict[str, float]) -> None:
    """Time the batched engine's decodes: steps with prompt tokens and pure generation steps."""
    from reviewer.backends.batched import LlamaEngine

    decode = LlamaEngine.decode

    def timed(engine: Any, entries: Any) -> None:
        start = time.perf_counter()
        decode(engine, entries)
        kind = "gen" if all(wants for _, _, _, wants in entries) else "prompt"
        profile[f"{kind}_s"] = profile.get(f"{kind}_s", 0.0) + time.perf_counter() - start
        profile[f"{kind}_steps"] = profile.get(f"{kind}_steps", 0) + 1
        profile[f"{kind}_tokens"] = profile.get(f"{kind}_tokens", 0) + len(entries)

    LlamaEngine.decode = timed  # type: ignore[method-assign]


def fresh_cache(shared: str, mode: str) -> str:
    """An empty cache dir of its own for a batchN row (cold, like the pipeline row)."""
    from reviewer.cache import cache_root

    path = Path(f"{shared}-{mode}")
    path.mkdir()
    os.symlink(cache_root(None) / "models", path / "models")
    return str(path)


def compare(r: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """Print how a batchN row's findings and timing compare with the same run's pipeline row."""
    base = next((b for b in results if b["mode"] == "pipeline" and b["model"] == r["model"]
                 and b["hunks"] == r["hunks"]), None)
    if base is None or not r["mode"].startswith("batch"):
        return
    same = [f for f in r["findings"] if f in base["findings"]]
    r["speedup"] = base["wall"] / r["wall"]
    r["findings_same"] = len(same)
    print(f"<!-- {r['model']} {r['hunks']} {r['mode']}: {r['speedup']:.2f}x the pipeline row; findings "
          f"{len(r['findings'])} vs {len(base['findings'])}, {len(same)} identical (title included); decode profile {r.get('profile')} -->",
          flush=True)
