"""Build vendor/: the native libmagic and its database for the Lambda package.

Lambda's python3.13 image (Amazon Linux 2023, glibc 2.34) has a libmagic of
its own (file-libs 5.39, see `deploy.lambda_image`), but not the version the
tests and the local stack detect with, and its database format may differ.
docpipe ships the manylinux2014 (glibc 2.17) build from the pinned,
hash-checked `pylibmagic` wheel instead: it needs only libc (<= GLIBC_2.14)
and libz.so.1, both in the runtime image. Detection loads it by path
(DOCPIPE_LIBMAGIC) because the image's /lib64 comes first on the loader path.

Chalice copies vendor/ into the package root: vendor/lib/libmagic.so.1 lands
in /var/task/lib and vendor/magic.mgc at /var/task/magic.mgc, which the MAGIC
environment variable names (both set by deploy.configure).

Needs only pip and PyPI (any OS: the wheel is downloaded for the Lambda
platform, not the build machine's).

    python -m deploy.vendor [--dest vendor] [--arch x86_64|arm64] [--bytecode-from deployment.zip]

--bytecode-from copies the precompiled bytecode of the dependencies out of a
package built by `make package` into vendor/, for `chalice deploy`, which
builds its own zip (without bytecode) and copies vendor/ into it.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from deploy import artifact, bytecode, lambda_image
from deploy.templates import REPO

PYLIBMAGIC = "pylibmagic==0.5.0"
PYLIBMAGIC_WHEEL_SHA256 = {
    "x86_64": "24b5bb791d42653d2668913c7b9a789b5458a2fff09d0ec3c8af33a1204eea6a",
    "arm64": "e8614c1e9d7bb0c6b6989646e385a514acb111fed9ec64f50aaf0e21dcf7b7bb",
}
STAMP = ".built-from"
FILES = ("lib/libmagic.so.1", "magic.mgc")


def fetch_pylibmagic(work: Path, arch: str) -> Path:
    """Download the manylinux2014 wheel for `arch` through pip and check its digest."""
    proc = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--platform", lambda_image.WHEEL_PLATFORM[arch], "--python-version", "3.13", "--dest", str(work),
            PYLIBMAGIC,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"pip download {PYLIBMAGIC} failed: {proc.stderr.strip()[-2000:]}")
    wheel = next(work.glob("pylibmagic-*.whl"))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != PYLIBMAGIC_WHEEL_SHA256[arch]:
        raise RuntimeError(f"{wheel.name} has sha256 {digest}, expected {PYLIBMAGIC_WHEEL_SHA256[arch]}")
    return wheel


def build(dest: Path, arch: str = "x86_64") -> Path:
    """Populate dest with lib/libmagic.so.1 and magic.mgc for `arch`; returns dest."""
    with tempfile.TemporaryDirectory(prefix="docpipe-vendor-") as tmp:
        wheel = fetch_pylibmagic(Path(tmp), arch)
        staged = Path(tmp) / "vendor"
        (staged / "lib").mkdir(parents=True)
        with zipfile.ZipFile(wheel) as zf:
            for name in FILES:
                with zf.open(f"pylibmagic/{Path(name).name}") as src, (staged / name).open("wb") as out:
                    shutil.copyfileobj(src, out)
        report = artifact.check_tree(staged, arch)
        if not report.ok:
            raise RuntimeError("the vendored libmagic would not load on Lambda: " + "; ".join(report.problems))
        (staged / STAMP).write_text(f"{PYLIBMAGIC} {arch} {PYLIBMAGIC_WHEEL_SHA256[arch]}\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staged, dest)
    return dest


def is_built(dest: Path, arch: str = "x86_64") -> bool:
    stamp = dest / STAMP
    return (
        stamp.exists()
        and stamp.read_text(encoding="utf-8").split() == [PYLIBMAGIC, arch, PYLIBMAGIC_WHEEL_SHA256[arch]]
        and all((dest / f).exists() for f in FILES)
        and not ({p.name for p in (dest / "lib").iterdir()} - {"libmagic.so.1"})
    )


def ensure(dest: Path, arch: str = "x86_64") -> Path:
    return dest if is_built(dest, arch) else build(dest, arch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.vendor", description="Build vendor/ (libmagic).")
    parser.add_argument("--dest", type=Path, default=REPO / "vendor")
    parser.add_argument("--arch", choices=sorted(PYLIBMAGIC_WHEEL_SHA256), default="x86_64")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--bytecode-from", type=Path, help="a deployment zip whose dependencies' .pyc to add")
    args = parser.parse_args(argv)
    if args.force or not is_built(args.dest, args.arch):
        build(args.dest, args.arch)
    else:
        print(f"{args.dest} is up to date ({args.arch})")
    if args.bytecode_from:
        # Not the app's own modules: chalice deploy takes app.py and chalicelib/ (compiled in place) from
        # the project, and vendor/ changing with every code change would rebuild the dependencies each time.
        count = bytecode.copy_caches(args.bytecode_from, args.dest, skip=("chalicelib", "__pycache__"))
        print(f"{args.dest}: {count} precompiled modules of the dependencies")
        return 0
    for native in artifact.native_files(args.dest):
        glibc = ".".join(map(str, native.glibc))
        print(f"{native.path}: {native.machine}, needs GLIBC_{glibc}, links {', '.join(native.needed)}")
    print(f"{args.dest / 'magic.mgc'}: {(args.dest / 'magic.mgc').stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
