"""The data-size experiment's loader (the artifact's `put_count`): write N items of
1 MB into the keygroup with 8 threads. Values are random hex (incompressible, as the
container baseline's os.urandom values), not the artifact's "a" * 2**20.
Input: {"count": N, "prefix": "item", "size": 1048576}."""
import json
import secrets
from concurrent.futures import ThreadPoolExecutor

from apps.komet.kv import keygroup


def fn(inp: str) -> str:
    req = json.loads(inp or "{}")
    count, prefix, size = int(req.get("count", 0)), str(req.get("prefix", "item")), int(req.get("size", 1 << 20))
    kg = keygroup("simple")

    def put(i: int) -> None:
        kg.update(f"{prefix}-{i}", secrets.token_hex(size // 2))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(count)))
    return str(count)
