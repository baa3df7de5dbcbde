"""Cache (Sec. 7.1): the value of a key, as the artifact's `get`.
Input: the key; output: its value ("" when absent)."""
from apps.komet.kv import keygroup


def fn(inp: str) -> str:
    value = keygroup("simple").read(inp.strip())
    return "" if value is None else value
