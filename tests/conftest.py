"""Shared test fixtures. Tests never read ../shared: data ships in leonet/data."""
import os
import shutil

import pytest


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces); run the suite with sudo")


def require_binary(name: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"needs `{name}` on PATH; scripts/test.sh installs it")
