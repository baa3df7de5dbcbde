"""One function instance: a process in the satellite's namespace (started by the node
host) that serves one Python function over a Unix socket.

The function is ``fn.py`` in the deployment folder exporting ``fn(inp: str) -> str``
(the paper's artifact's signature); it reaches its state through
:func:`apps.komet.kv.keygroup`. Invocations run in a thread pool of ``--threads``
(tinyFaaS's ``threads``). An exception becomes a 500 answer with the error; the
instance keeps running. The process prints ``ready`` on stdout once it serves.

    python -m apps.komet.worker --dir DIR --socket PATH [--threads N]
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web


def load_function(folder: str):
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("fn", os.path.join(folder, "fn.py"))
    if spec is None or spec.loader is None:
        raise SystemExit(f"no fn.py in {folder}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "fn", None)):
        raise SystemExit("fn.py has no function fn(inp: str) -> str")
    return module.fn


def make_app(fn, threads: int) -> web.Application:
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fn")

    async def invoke(request: web.Request) -> web.Response:
        body = await request.text()
        try:
            out = await asyncio.get_running_loop().run_in_executor(pool, fn, body)
        except Exception as exc:  # the function's own error: report it, keep serving
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return web.json_response({"error": "function raised", "detail": tb}, status=500)
        return web.Response(text="" if out is None else str(out))

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/health", health)
    app.router.add_post("/invoke", invoke)
    return app


async def serve(args: argparse.Namespace) -> None:
    fn = load_function(args.dir)
    runner = web.AppRunner(make_app(fn, args.threads), access_log=None)
    await runner.setup()
    await web.UnixSite(runner, args.socket).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", required=True)
    p.add_argument("--socket", required=True)
    p.add_argument("--threads", type=int, default=8)
    args = p.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
