"""Komet Fig. 8: keygroup replication time vs data size on the live emulation
(SoCC '24, Sec. 7.1), Komet's side of Fig. 2.

One plane of 22 satellites over Redmond (the Fig. 7 setting, clock stopped at
+40,500 s). For each size the cache is deployed on the satellite serving Redmond,
``put_count`` loads N items of 1 MB (random, incompressible), and the keygroup is
replicated to the next satellite of the plane over the emulated ISL
(:meth:`Deployment.add`: ``replication_s`` is the full copy, the paper's
``AddReplica`` time); meanwhile a reader in Redmond reads a key at the serving
satellite every 50 ms (the paper: replication causes no downtime).

The baseline of Fig. 2 is **stop-copy-restart** of the keygroup's Redis server, since
CRIU cannot checkpoint here (``criu check``: "vdso: Failed to fill self vdso
symtable" on this kernel): save the data to an RDB file and stop the server
(checkpoint; the downtime begins), copy the file to the next satellite over the
emulated ISL (transfer), start Redis there from it (restore, until it answers with the
data loaded). It moves a process, not a container: no container start in the restore,
which is most of the paper's 3.34 s at 0 MB.

    sudo flock /tmp/leonet-live.lock python experiments/komet_fig8.py [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import ROOT, matplotlib_agg, print_table, save_figure, write_csv
from leonet import LeoNet
from leonet.komet.apps import CACHE
from leonet.komet.migration import Deployment
from leonet.komet.nodeapi import NodeClient, NodeError
from leonet.komet.platform import KometPlatform, LocalKomet

START_S = 40500
SOURCE, TARGET = "s0p0n2", "s0p0n1"          #: serving Redmond at +40,500 s, and the next one
#: [A] mean AddReplica time (s) over 10 repetitions per size (MB); Fig. 2 containers total (s)
PAPER_KOMET = {0: 0.131, 100: 1.889, 200: 2.749, 300: 3.767, 400: 4.644, 500: 5.632, 600: 6.495, 700: 7.495,
               800: 8.329, 900: 9.325, 1000: 10.095}
PAPER_CONTAINER = {0: 3.740, 100: 7.047, 200: 10.348, 300: 13.180, 400: 16.334, 500: 19.533, 600: 23.103,
                   700: 26.352, 800: 29.614, 900: 32.361, 1000: 35.707}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="0, 5 and 10 MB, one repetition (CI)")
    p.add_argument("--repetitions", type=int, default=None, help="per size (default 3, quick 1)")
    p.add_argument("--sizes", default=None, help="MB, comma-separated (default 0,100,...,1000; quick 0,5,10)")
    p.add_argument("--no-emulation", action="store_true",
                   help="the two satellites as Komet servers in one private namespace (loopback, no emulated "
                        "link): a lower bound, not the paper's setting")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "komet", help="output folder")
    return p


async def reader(node: NodeClient, stop: asyncio.Event, counts: dict) -> None:
    while not stop.is_set():
        try:
            await node.invoke("get", "anchor", timeout_s=0.5)
            counts["ok"] += 1
        except NodeError:
            counts["failed"] += 1
        await asyncio.sleep(0.05)


async def one_run(nodes, mb: int) -> dict:
    dep = Deployment(CACHE, nodes.get, sync_timeout_s=600)
    await dep.add(SOURCE)
    src = nodes[SOURCE]
    await src.invoke("put", json.dumps({"key": "anchor", "value": "a"}))
    if mb:
        await src.invoke("put_count", json.dumps({"count": mb}), timeout_s=900)
    used = (await src.keygroup("simple"))["used_memory_bytes"]
    stop, counts = asyncio.Event(), {"ok": 0, "failed": 0}
    task = asyncio.ensure_future(reader(src, stop, counts))
    t = await dep.add(TARGET, source=SOURCE)
    stop.set()
    await task
    keys = (await nodes[TARGET].keygroup("simple"))["keys"]
    for sat in (TARGET, SOURCE):
        for fn in CACHE.functions:
            await nodes[sat].delete_function(fn)
        await nodes[sat].delete_keygroup("simple")
    base = await baseline(nodes, mb)
    return {"mb": mb, "replication_s": t["replication_s"], "functions_s": t["functions_s"],
            "total_s": t["total_s"], "keys_copied": keys, "used_memory_mb": used / 2 ** 20,
            "reads_ok": counts["ok"], "reads_failed": counts["failed"], **base}


async def baseline(nodes, mb: int) -> dict:
    """Stop-copy-restart of the same keygroup from SOURCE to TARGET."""
    dep = Deployment(CACHE, nodes.get)
    await dep.add(SOURCE)
    src, dst = nodes[SOURCE], nodes[TARGET]
    await src.invoke("put", json.dumps({"key": "anchor", "value": "a"}))
    if mb:
        await src.invoke("put_count", json.dumps({"count": mb}), timeout_s=900)
    for fn in CACHE.functions:
        await src.delete_function(fn)
    ck = await src.checkpoint_keygroup("simple")
    ans = await dst.restore_keygroup("simple", src)
    keys = (await dst.keygroup("simple"))["keys"]
    await src.delete_keygroup("simple")
    await dst.delete_keygroup("simple")
    return {"checkpoint_s": ck["checkpoint_s"], "transfer_s": ans["transfer_s"], "restore_s": ans["started_s"],
            "baseline_s": ck["checkpoint_s"] + ans["transfer_s"] + ans["started_s"], "baseline_keys": keys,
            "checkpoint_mb": ck["bytes"] / 2 ** 20}


async def _session():
    import aiohttp
    return aiohttp.ClientSession()


def main() -> int:
    args = parser().parse_args()
    sizes = [0, 5, 10] if args.quick else list(range(0, 1001, 100))
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    reps = args.repetitions or (1 if args.quick else 3)
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [m for m in sizes for _ in range(reps)]
    if args.no_emulation:
        with tempfile.TemporaryDirectory(prefix="leonet-komet-fig8-") as tmp:
            local = LocalKomet(Path(tmp), [SOURCE, TARGET])
            try:
                print(f"{SOURCE} -> {TARGET}: loopback in {local.netns} (no emulation)")
                rows = [local.loop.run(one_run(local.clients, mb), 1800) for mb in tqdm(runs, desc="fig8 (runs)")]
            finally:
                local.close()
    else:
        with LeoNet("komet-live-cache", clock="manual", offset_s=START_S) as net, \
                KometPlatform(net, satellites=[SOURCE, TARGET]) as komet:
            ground = komet.loop("redmond")
            session = ground.run(_session())
            nodes = {s: NodeClient(session, s, komet.address(s)) for s in (SOURCE, TARGET)}
            path = net.path(SOURCE, TARGET)
            print(f"{SOURCE} -> {TARGET}: {path.delay_ms:.2f} ms one way over {len(path.hops) - 1} hop(s)")
            rows = [ground.run(one_run(nodes, mb), 1800) for mb in tqdm(runs, desc="fig8 (runs)")]
            ground.run(session.close())
    write_csv(args.out / "fig8_runs.csv", rows, list(rows[0]))
    table = []
    for mb in sizes:
        r = [x for x in rows if x["mb"] == mb]
        rep = np.array([x["replication_s"] for x in r])
        base = np.array([x["baseline_s"] for x in r])
        table.append({"MB": mb, "komet_s": float(rep.mean()), "komet_sd": float(rep.std()),
                      "baseline_s": float(base.mean()), "baseline_sd": float(base.std()),
                      "checkpoint_s": float(np.mean([x["checkpoint_s"] for x in r])),
                      "transfer_s": float(np.mean([x["transfer_s"] for x in r])),
                      "restore_s": float(np.mean([x["restore_s"] for x in r])),
                      "paper_komet_s": PAPER_KOMET.get(mb), "paper_container_s": PAPER_CONTAINER.get(mb),
                      "reads_failed": sum(x["reads_failed"] for x in r), "reads": sum(x["reads_ok"] for x in r),
                      "keys": r[0]["keys_copied"]})
    write_csv(args.out / "fig8.csv", table, list(table[0]))
    mbs = np.array([t["MB"] for t in table], float)
    slope = np.polyfit(mbs, [t["komet_s"] for t in table], 1)[0] * 1000 if len(mbs) > 1 else float("nan")
    bslope = np.polyfit(mbs, [t["baseline_s"] for t in table], 1)[0] * 1000 if len(mbs) > 1 else float("nan")
    print(f"\nFig. 8: replication time vs data size, {reps} run(s) per size")
    print_table(table, ["MB", "komet_s", "paper_komet_s", "baseline_s", "checkpoint_s", "transfer_s", "restore_s",
                        "paper_container_s", "reads", "reads_failed", "keys"], floatfmt="{:.3f}")
    print(f"slope: Komet {slope:.2f} ms/MB (paper ~10), stop-copy-restart {bslope:.2f} ms/MB "
          f"(paper's containers ~32)")
    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.errorbar(mbs, [t["komet_s"] for t in table], yerr=[t["komet_sd"] for t in table], marker="o",
                label="Komet on leonet (Redis keygroup)")
    pk = sorted(PAPER_KOMET)
    ax.errorbar(mbs, [t["baseline_s"] for t in table], yerr=[t["baseline_sd"] for t in table], marker="s",
                label="stop-copy-restart on leonet (Redis process)")
    ax.plot(pk, [PAPER_KOMET[m] for m in pk], "--", label="Komet, paper [A]")
    ax.plot(pk, [PAPER_CONTAINER[m] for m in pk], ":", label="container (CRIU), paper")
    ax.set_xlabel("data size (MB)")
    ax.set_ylabel("migration / replication time (s)")
    ax.legend(fontsize=8)
    save_figure(fig, args.out / "fig8.png", args.out / "fig8.csv", args.out / "fig8_runs.csv")
    return 0 if all(t["reads_failed"] == 0 for t in table) else 1


if __name__ == "__main__":
    from common import run_main
    run_main(main)
