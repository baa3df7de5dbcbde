"""A one-line description of the machine a benchmark ran on, for docs/benchmarks.md."""
import os
import platform


def describe() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            mem_gb = int(fh.readline().split()[1]) / 1024 ** 2
    except (OSError, ValueError, IndexError):
        mem_gb = float("nan")
    return (f"{os.cpu_count()} cores, {cpu}, {mem_gb:.0f} GB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")
