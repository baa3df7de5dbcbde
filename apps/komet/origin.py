"""The CDN's origin server (Sec. 7.3; the artifact's Go server in Umatilla County OR):
``GET /<path>`` answers the item's synthetic content, as many bytes as the catalogue
says (:mod:`apps.komet.catalog`); an unknown path is a 404.

    python -m apps.komet.origin --host ADDRESS [--port 8000]

Prints ``ready`` once it listens.
"""
from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

from .catalog import size_of


async def item(request: web.Request) -> web.Response:
    try:
        size = size_of(request.match_info["path"])
    except ValueError as exc:
        raise web.HTTPNotFound(text=str(exc))
    return web.Response(text="x" * size)


async def serve(host: str, port: int) -> None:
    app = web.Application()
    app.router.add_get("/{path:.+}", item)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
