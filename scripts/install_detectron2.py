"""Make detectron2 importable in the current Python environment.

    python scripts/install_detectron2.py [--force]

1. If ``import detectron2`` already works (an upstream build the user installed, with or without its C++
   ops), it is left alone.
2. Otherwise detectron2 v0.6's Python package is taken from the PyPI sdist ``pb1-detectron2==0.6`` (its
   files are identical to the upstream v0.6 tag, but it ships no C++ sources, so ``pip install`` of it
   fails). Its ``detectron2/`` folder is copied into this environment's site-packages, plus a small
   ``detectron2/_C.py`` that raises a clear ImportError the moment a C++-only op (rotated boxes,
   deformable convolution, the fast COCO evaluator) is used. Everything GraphKD needs (Faster R-CNN and
   RetinaNet with FPN, ROIAlign through torchvision, pycocotools evaluation) runs without it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

SDIST = "pb1-detectron2==0.6"
MARKER = "_GRAPHKD_PYTHON_ONLY"  # file inside the copied package: we installed it, --force may replace it

C_STUB = '''"""Stand-in for detectron2's compiled extension, which this Python-only install does not have.

Installed by GraphKD's scripts/install_detectron2.py. Any use of a C++/CUDA op fails here, clearly.
"""


def _missing(name):
    def fail(*args, **kwargs):
        raise ImportError(
            f"detectron2._C.{name} is a C++/CUDA op, and this detectron2 is the Python-only install "
            "(pb1-detectron2 0.6 without compiled ops). Rotated boxes, deformable convolution and "
            "COCOEvaluator(use_fast_impl=True) need a compiled detectron2: build it from source, or avoid "
            "these ops (GraphKD's Faster R-CNN/RetinaNet paths never use them)."
        )

    fail.__name__ = name
    return fail


def get_compiler_version():  # read by detectron2's collect_env (default_setup logs it)
    return "none: Python-only detectron2 (no compiled ops)"


def get_cuda_version():
    return "none: Python-only detectron2 (no compiled ops)"


def has_cuda():
    return False


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _missing(name)
'''


def die(message: str) -> None:
    print(f"[install_detectron2] error: {message}", file=sys.stderr)
    sys.exit(1)


def existing_detectron2() -> Path | None:
    spec = importlib.util.find_spec("detectron2")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def index_url() -> str:
    """The package index pip is configured with (PIP_INDEX_URL, pip config), else PyPI."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
        )
        url = result.stdout.strip() if result.returncode == 0 else ""
    return (url or "https://pypi.org/simple").rstrip("/")


def download_sdist(dest: Path) -> Path:
    """Fetch the sdist from the index's simple API and check its sha256.

    ``pip download`` cannot be used: pip >= 24 refuses this sdist's metadata (an extra that names a direct
    URL dependency), although the package itself is fine.
    """
    name, version = SDIST.split("==")
    cached = sorted(dest.glob(f"pb1*detectron2-{version}.tar.gz"))
    if cached:
        return cached[0]
    page_url = f"{index_url()}/{name}/"
    request = urllib.request.Request(page_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            files = json.load(response)["files"]
    except (OSError, ValueError, KeyError) as exc:
        die(f"could not read the file list of {name} at {page_url}: {exc}")
    wanted = [f for f in files if f["filename"].endswith(f"-{version}.tar.gz")]
    if not wanted:
        die(f"{page_url} lists no {name} {version} sdist (files: {[f['filename'] for f in files]})")
    entry = wanted[0]
    url = urllib.parse.urljoin(page_url, entry["url"])
    try:
        with urllib.request.urlopen(url, timeout=300) as response:
            payload = response.read()
    except OSError as exc:
        die(f"could not download {url}: {exc}")
    expected = entry.get("hashes", {}).get("sha256")
    if expected and hashlib.sha256(payload).hexdigest() != expected:
        die(f"{entry['filename']} from {url} does not match the index's sha256 {expected}")
    archive = dest / entry["filename"]
    tmp = archive.with_suffix(".part")
    tmp.write_bytes(payload)
    tmp.replace(archive)
    return archive


def extract_package(archive: Path, site_packages: Path) -> Path:
    target = site_packages / "detectron2"
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory() as tmp:
        members = [m for m in tar.getmembers() if "/detectron2/" in f"/{m.name}" and m.isfile()]
        if not any(m.name.endswith("detectron2/__init__.py") for m in members):
            die(f"{archive.name} has no detectron2/__init__.py: not the expected sdist")
        tar.extractall(tmp, members=members, filter="data")
        source = next(Path(tmp).glob("*/detectron2"))
        staging = site_packages / "detectron2.graphkd-tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
    (staging / "_C.py").write_text(C_STUB)
    (staging / MARKER).write_text(f"installed from {archive.name} by GraphKD scripts/install_detectron2.py\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # the package appears whole or not at all
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--force", action="store_true", help="replace a Python-only install made by this script"
    )
    args = parser.parse_args()

    found = existing_detectron2()
    if found is not None and not (args.force and (found / MARKER).exists()):
        if (found / MARKER).exists():
            (found / "_C.py").write_text(C_STUB)  # keep our stand-in current; the package itself is unchanged
            print(f"[install_detectron2] detectron2 found at {found} (Python-only, GraphKD route)")
        else:
            print(f"[install_detectron2] detectron2 found at {found} (existing install, left alone)")
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        die("torch must be installed first (pb1-detectron2's setup.py imports it)")

    site_packages = Path(sysconfig.get_paths()["purelib"])
    cache = Path(sys.prefix) / "graphkd-downloads"
    cache.mkdir(exist_ok=True)
    archive = download_sdist(cache)
    target = extract_package(archive, site_packages)
    importlib.invalidate_caches()
    check = subprocess.run(
        [sys.executable, "-c", "import detectron2.modeling, detectron2.engine"],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        die(f"detectron2 was copied to {target} but does not import:\n{check.stderr.strip()[-2000:]}")
    print(f"[install_detectron2] installed detectron2 0.6 (Python only) at {target}")


if __name__ == "__main__":
    main()
