import multiprocessing
import sqlite3

from reviewer.backends import Completion
from reviewer.cache import ResultCache, cache_key


def test_roundtrip_and_persistence(tmp_path):
    path = tmp_path / "sub" / "r.sqlite3"
    c = ResultCache(path)
    key = cache_key("sha", "review-v1", "hunk")
    assert c.get(key) is None
    c.put(key, Completion('{"findings": []}', 10, 5))
    c.close()
    again = ResultCache(path)
    assert again.get(key) == Completion('{"findings": []}', 10, 5)


def test_key_components_all_matter():
    base = cache_key("m", "p", "h", "x")
    assert len({base, cache_key("m2", "p", "h", "x"), cache_key("m", "p2", "h", "x"),
                cache_key("m", "p", "h2", "x"), cache_key("m", "p", "h", "y")}) == 5


def test_uses_wal(tmp_path):
    ResultCache(tmp_path / "r.sqlite3")
    mode = sqlite3.connect(tmp_path / "r.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def _writer(path, start):
    c = ResultCache(path)
    for i in range(start, start + 200):
        c.put(f"k{i}", Completion(str(i), i, i))


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "r.sqlite3"
    ResultCache(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, n * 1000)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    c = ResultCache(path)
    assert all(c.get(f"k{n * 1000 + i}") is not None for n in range(3) for i in range(200))
