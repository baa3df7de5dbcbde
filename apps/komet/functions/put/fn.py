"""Cache (Sec. 7.1): store {"key", "value"}, as the artifact's `put`. The answer
comes once the keygroup's primary has the write (it is acknowledged)."""
import json

from apps.komet.kv import keygroup


def fn(inp: str) -> str:
    item = json.loads(inp)
    keygroup("simple").update(str(item["key"]), str(item["value"]))
    return "ok"
