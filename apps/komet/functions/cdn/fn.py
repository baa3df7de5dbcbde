"""CDN (Sec. 7.3): the cache function, as the artifact's ``cdn``. Input: the path of an
item. It

1. logs the path in the append-only keygroup ``log`` (id = the time in ns), asynchronously;
2. with probability 1 % asks the trimming function ``cdndelete`` (a function-to-function
   call to this satellite's runtime), asynchronously;
3. reads ``cdn/<path>``: on a hit it answers the content followed by ``1``; on a miss it
   fetches the item from the origin (``KOMET_ORIGIN``, 1 s timeout), stores it in the
   cache asynchronously and answers the content followed by ``0``.
"""
import os
import random
import threading
import time
import urllib.request

from apps.komet.kv import keygroup

DELETION_LIKELIHOOD = 0.01
ORIGIN = os.environ.get("KOMET_ORIGIN", "")
SELF = os.environ.get("KOMET_NODE_ADDRESS", "127.0.0.1")


def _background(target, *args) -> None:
    threading.Thread(target=target, args=args, daemon=True).start()


def _trim() -> None:
    try:
        urllib.request.urlopen(urllib.request.Request(f"http://{SELF}:8000/cdndelete", data=b"", method="POST"),
                               timeout=30).read()
    except OSError:
        pass                                  # the next request tries again


def fn(inp: str) -> str:
    path = inp.strip().lstrip("/")
    _background(keygroup("log").append, str(time.time_ns()), path)
    if random.random() < DELETION_LIKELIHOOD:
        _background(_trim)
    cache = keygroup("cdn")
    content = cache.read(path)
    if content is not None:
        return content + "1"
    with urllib.request.urlopen(f"http://{ORIGIN}/{path}", timeout=1.0) as resp:
        content = resp.read().decode()
    _background(cache.update, path, content)
    return content + "0"
