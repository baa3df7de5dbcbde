"""CDN (Sec. 7.3): the trimming function, as the artifact's ``cdndelete``. When the
cache holds 1,000 items or more it takes a lock (an append of id ``0`` to the
append-only ``log``, which fails while another trimmer holds it and expires with the
log's 10 s), keeps the most recently requested unique items (500, as the artifact) and
deletes every other item of ``cdn``. Answers what it did."""
from concurrent.futures import ThreadPoolExecutor

from apps.komet.kv import KeyExists, keygroup

TRIM_AT, KEEP = 1000, 500


def fn(inp: str) -> str:
    cache, log = keygroup("cdn"), keygroup("log")
    keys = cache.keys(100_000)
    if len(keys) < TRIM_AT:
        return f"kept {len(keys)}"
    try:
        log.append("0", "lock")
    except KeyExists:
        return "locked"
    recent = log.scan(100_000)
    keep = []
    for _, path in sorted(((int(k), v) for k, v in recent.items() if k != "0"), reverse=True):
        if path not in keep:
            keep.append(path)
        if len(keep) >= KEEP:
            break
    drop = [k for k in keys if k not in set(keep)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(cache.delete, drop))
    return f"deleted {len(drop)}"
