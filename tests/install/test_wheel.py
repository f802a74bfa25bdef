"""The package as users get it: a wheel holds every package and data file, and the Dockerfile's install runs.

CI installs the checkout with `-e`, which hides a package or data file missing from the wheel: these tests
build and install it as `pip install .` and the Dockerfile do, then run it from outside the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "geo", "streams")
# Inputs of scripts/build_geofences.py, not opened at run time (geo/data/sources/PROVENANCE.md).
BUILD_ONLY = re.compile(r"^geo/data/sources/osm_.*\.geojson$")
# What the installed package must do from a folder with no checkout in it: every data file the code opens.
USE_INSTALLED = """
import streams, geo
from pathlib import Path
from geo.catalogue import load_catalogue
from geo.ports import load_ports
from streams.data import LICENSES, SAMPLE_INTERCEPTIONS, SAMPLE_VESSELS
from streams.detect.seed import load_seed
from streams.sources.replay import open_lines
import streams.worker.start  # the worker and everything it imports: Faust, aiokafka, chdb
catalogue = load_catalogue()
assert len(catalogue.crossings.ids) > 0
assert load_ports() is not None and load_seed() is not None and LICENSES.read_text()
assert next(open_lines(SAMPLE_INTERCEPTIONS)) and next(open_lines(SAMPLE_VESSELS))
print(Path(streams.__file__).parent)
"""


def source_files() -> set[str]:
    """Every file of the packages in the checkout, as a wheel names it."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            name = path.relative_to(ROOT).as_posix()
            if path.is_file() and "__pycache__" not in path.parts and not BUILD_ONLY.match(name):
                found.add(name)
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: setuptools keeps a build/ folder beside the sources, and a module left in it
    # from an earlier layout would be packed into the wheel.
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in (*PACKAGES, "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (built,) = out.glob("borderwatch-*.whl")
    return built


def test_the_wheel_holds_every_package_and_data_file(wheel: Path) -> None:
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(source_files() - in_wheel)
    assert missing == []
    folders = {p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    assert folders <= in_wheel


def dockerfile_install(build: Path, prefix: Path) -> str:
    """Lay out `build` as the Dockerfile's COPY lines do, then run its `pip install` with the prefix here."""
    text = (ROOT / "docker" / "Dockerfile").read_text()
    build_stage = text.split("\nFROM ")[1]  # the first stage, after the header comments
    for source, target in re.findall(r"^COPY (?!--)(.+) (\S+)$", build_stage, re.M):
        for name in source.split():
            dest = build / target / name if target.endswith("/") else build / target
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, dest, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / name, dest)
    (command,) = re.findall(r"^RUN (pip install .*)$", build_stage, re.M)
    return command.replace("--prefix=/install", f"--prefix={prefix}")


def test_the_dockerfile_install_runs_the_worker_from_outside_the_checkout(tmp_path: Path) -> None:
    build, prefix, elsewhere = tmp_path / "src", tmp_path / "install", tmp_path / "elsewhere"
    build.mkdir()
    elsewhere.mkdir()
    command = dockerfile_install(build, prefix)
    # The image installs the pinned dependencies too; this venv has them, so only the package is new here.
    # --ignore-installed: the image's build stage has no borderwatch yet, and without it pip uninstalls
    # this venv's editable install before it installs into the prefix.
    args = [*command.split()[2:], "--no-deps", "--ignore-installed", "-q"]
    subprocess.run([sys.executable, "-m", "pip", "install", *args], cwd=build, check=True)
    (site,) = prefix.glob("lib/python3*/site-packages")
    env = {**os.environ, "PYTHONPATH": str(site)}
    used = subprocess.run(
        [sys.executable, "-c", USE_INSTALLED], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert used.returncode == 0, used.stderr[-2000:]
    assert Path(used.stdout.strip()) == site / "streams"
    console_script = str(prefix / "bin" / "borderwatch")
    cli = subprocess.run([console_script, "--help"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "demo" in cli.stdout and "worker" in cli.stdout
