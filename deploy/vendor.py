"""Build vendor/: the native libmagic and its database for the Lambda package.

The Lambda python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34) and has
no libmagic. Debian 12's libmagic1 is a poor fit there: it links libbz2.so.1.0
(a soname Amazon Linux spells libbz2.so.1), liblzma and libzstd. The
manylinux2014 (glibc 2.17) build inside the pinned `pylibmagic` wheel needs
only libc (<= GLIBC_2.14) and libz.so.1; libz.so.1 is shipped too (Debian's
zlib1g, <= GLIBC_2.14) so nothing is left to the runtime image but libc.

Chalice copies vendor/ into the package root: vendor/lib/*.so* land in
/var/task/lib (on Lambda's LD_LIBRARY_PATH) and vendor/magic.mgc at
/var/task/magic.mgc, which the MAGIC environment variable names.

    python -m deploy.vendor [--dest vendor]
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

from deploy.templates import REPO

PYLIBMAGIC = "pylibmagic==0.5.0"
PYLIBMAGIC_WHEEL_SHA256 = "24b5bb791d42653d2668913c7b9a789b5458a2fff09d0ec3c8af33a1204eea6a"
ZLIB_PACKAGE = "zlib1g"
# Lambda python3.13 = Amazon Linux 2023: glibc 2.34.
TARGET_GLIBC = (2, 34)
STAMP = ".built-from"


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def fetch_pylibmagic(work: Path) -> Path:
    """Download the manylinux2014 x86_64 wheel through pip and check its digest."""
    _run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--platform", "manylinux2014_x86_64", "--python-version", "3.13", "--dest", str(work), PYLIBMAGIC,
        ]
    )  # fmt: skip
    wheel = next(work.glob("pylibmagic-*.whl"))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != PYLIBMAGIC_WHEEL_SHA256:
        raise RuntimeError(f"{wheel.name} has sha256 {digest}, expected {PYLIBMAGIC_WHEEL_SHA256}")
    return wheel


def fetch_zlib(work: Path) -> Path:
    """Debian's zlib1g through apt; a fresh machine without package lists gets `apt-get update` once."""
    try:
        _run(["apt-get", "download", ZLIB_PACKAGE], cwd=work)
    except RuntimeError:
        _run(["apt-get", "update", "-qq"])
        _run(["apt-get", "download", ZLIB_PACKAGE], cwd=work)
    deb = next(work.glob(f"{ZLIB_PACKAGE}_*.deb"))
    root = work / "zlib"
    _run(["dpkg-deb", "-x", str(deb), str(root)])
    return next(p for p in root.rglob("libz.so.1*") if p.is_file() and not p.is_symlink())


def required_glibc(library: Path) -> tuple[int, ...]:
    """The newest GLIBC_x.y symbol version a shared library asks for (objdump -T)."""
    versions = set()
    for line in _run(["objdump", "-T", str(library)]).splitlines():
        for token in line.replace("(", " ").replace(")", " ").split():
            if token.startswith("GLIBC_") and token[6:].replace(".", "").isdigit():
                versions.add(tuple(int(x) for x in token[6:].split(".")))
    return max(versions) if versions else (0,)


def needed(library: Path) -> list[str]:
    """DT_NEEDED entries (readelf -d)."""
    out = []
    for line in _run(["readelf", "-d", str(library)]).splitlines():
        if "(NEEDED)" in line and "[" in line:
            out.append(line.split("[", 1)[1].rstrip("]").strip())
    return out


def build(dest: Path) -> Path:
    """Populate dest with lib/libmagic.so.1, lib/libz.so.1 and magic.mgc; returns dest."""
    with tempfile.TemporaryDirectory(prefix="docpipe-vendor-") as tmp:
        work = Path(tmp)
        wheel = fetch_pylibmagic(work)
        with zipfile.ZipFile(wheel) as zf:
            zf.extract("pylibmagic/libmagic.so.1", work)
            zf.extract("pylibmagic/magic.mgc", work)
        zlib = fetch_zlib(work)
        lib = dest / "lib"
        if lib.exists():
            shutil.rmtree(lib)
        lib.mkdir(parents=True)
        shutil.copyfile(work / "pylibmagic" / "libmagic.so.1", lib / "libmagic.so.1")
        shutil.copyfile(zlib, lib / "libz.so.1")
        shutil.copyfile(work / "pylibmagic" / "magic.mgc", dest / "magic.mgc")
    for so in sorted(lib.iterdir()):
        if required_glibc(so) > TARGET_GLIBC:
            raise RuntimeError(f"{so.name} needs glibc {required_glibc(so)}, newer than Lambda's {TARGET_GLIBC}")
    (dest / STAMP).write_text(f"{PYLIBMAGIC} {PYLIBMAGIC_WHEEL_SHA256}\n{ZLIB_PACKAGE} (Debian)\n", encoding="utf-8")
    return dest


def is_built(dest: Path) -> bool:
    stamp = dest / STAMP
    files = (dest / "lib" / "libmagic.so.1", dest / "lib" / "libz.so.1", dest / "magic.mgc")
    return stamp.exists() and PYLIBMAGIC_WHEEL_SHA256 in stamp.read_text() and all(f.exists() for f in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.vendor", description="Build vendor/ (libmagic).")
    parser.add_argument("--dest", type=Path, default=REPO / "vendor")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    if is_built(args.dest) and not args.force:
        print(f"{args.dest} is up to date")
        return 0
    build(args.dest)
    for so in sorted((args.dest / "lib").iterdir()):
        glibc = ".".join(map(str, required_glibc(so)))
        print(f"{so.relative_to(args.dest)}: needs GLIBC_{glibc}, links {', '.join(needed(so))}")
    print(f"{args.dest / 'magic.mgc'}: {(args.dest / 'magic.mgc').stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
