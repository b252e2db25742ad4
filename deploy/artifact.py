"""Would this deployment package load on Lambda? Every native file in it, checked against the runtime.

For each ELF file of an unpacked package: the right machine (x86_64 or
aarch64), no glibc symbol version newer than the image's (2.34), and every
DT_NEEDED library either provided by the python3.13 image
(`deploy.lambda_image`) or shipped in the package where the loader looks for
it (the object's RPATH/RUNPATH with $ORIGIN, or the task root and its lib/,
which are on Lambda's LD_LIBRARY_PATH). A host-built wheel, a library left
to the build machine or a binary for the other architecture is reported by
path.

    python -m deploy.artifact artifacts/prod/package/deployment.zip [--arch arm64]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from deploy import lambda_image

_GLIBC_VERSION = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")
_STRING_TAGS = {"DT_NEEDED": "needed", "DT_SONAME": "soname", "DT_RPATH": "rpath", "DT_RUNPATH": "runpath"}

# Native files allowed to be unloadable, with why nothing docpipe needs depends on them.
OPTIONAL: dict[str, str] = {
    "PIL/_avif.": (
        "Pillow's AVIF codec needs libstdc++.so.6; Pillow imports it inside try/except ImportError, AVIF "
        "metadata is read without it (extraction/extractors/heif.py) and an AVIF gets no thumbnail without it"
    ),
    "pillow.libs/libavif-": "loaded only by PIL/_avif",
}


@dataclass(frozen=True)
class NativeFile:
    path: str
    machine: str
    glibc: tuple[int, ...]
    needed: tuple[str, ...]
    search: tuple[str, ...]
    soname: str | None


@dataclass
class Report:
    files: list[NativeFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    optional: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def read_native(path: Path, root: Path) -> NativeFile:
    """Machine, newest GLIBC_ version, DT_NEEDED and the library search directories of one ELF file."""
    rel = path.relative_to(root).as_posix()
    with path.open("rb") as f:
        elf = ELFFile(f)
        needed: list[str] = []
        search: list[str] = []
        soname = None
        versions: set[tuple[int, ...]] = set()
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    kind = tag.entry.d_tag
                    if kind not in _STRING_TAGS:
                        continue
                    text = getattr(tag, _STRING_TAGS[kind])  # pyelftools sets these attributes per tag kind
                    if kind == "DT_NEEDED":
                        needed.append(text)
                    elif kind == "DT_SONAME":
                        soname = text
                    else:
                        search.extend(_expand(entry, path.parent, root) for entry in text.split(":") if entry)
            elif isinstance(section, GNUVerNeedSection):
                for _, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        match = _GLIBC_VERSION.match(aux.name)
                        if match:
                            versions.add(tuple(int(g) for g in match.groups() if g is not None))
        return NativeFile(
            rel, elf["e_machine"], max(versions) if versions else (0,), tuple(needed), tuple(search), soname
        )


def _expand(entry: str, origin: Path, root: Path) -> str:
    """An RPATH entry relative to the package root ('' when it points outside the package)."""
    text = entry.replace("${ORIGIN}", "$ORIGIN")
    if not text.startswith("$ORIGIN"):
        return ""
    target = Path(os.path.normpath(origin / text.replace("$ORIGIN", ".", 1)))
    try:
        return target.relative_to(root).as_posix()
    except ValueError:
        return ""


def native_files(root: Path) -> Iterator[NativeFile]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and is_elf(path):
            yield read_native(path, root)


def check_tree(root: Path, arch: str = "x86_64") -> Report:
    """Every ELF file under `root` (an unpacked package) against the python3.13 image on `arch`."""
    provided = lambda_image.provided_libraries(arch)
    machine = lambda_image.ELF_MACHINE[arch]
    report = Report(files=list(native_files(root)))
    shipped: dict[str, set[str]] = {}
    for native in report.files:
        folder = Path(native.path).parent.as_posix() if "/" in native.path else ""
        shipped.setdefault(folder, set()).add(Path(native.path).name)
        if native.soname:
            shipped[folder].add(native.soname)
    for native in report.files:
        broken, unlinked = _issues(native, machine, provided, shipped)
        reason = next((why for prefix, why in OPTIONAL.items() if native.path.startswith(prefix)), None)
        if reason:  # only a missing library can be excused, never the wrong machine or C library
            report.optional.extend(f"{native.path}: {issue} (optional: {reason})" for issue in unlinked)
        else:
            broken += unlinked
        report.problems.extend(f"{native.path}: {issue}" for issue in broken)
    return report


def _issues(
    native: NativeFile, machine: str, provided: frozenset[str], shipped: dict[str, set[str]]
) -> tuple[list[str], list[str]]:
    """(wrong machine or C library, libraries the loader would not find)."""
    broken = []
    if native.machine != machine:
        broken.append(f"built for {native.machine}, not {machine}")
    if native.glibc > lambda_image.GLIBC:
        need = ".".join(map(str, native.glibc))
        broken.append(f"needs GLIBC_{need}, newer than the runtime's {'.'.join(map(str, lambda_image.GLIBC))}")
    # Lambda's loader path holds /var/task and /var/task/lib; RPATH/RUNPATH entries add their folders.
    folders = ("", "lib", *(s for s in native.search if s))
    unlinked = [
        f"links {library}, which the {lambda_image.RUNTIME} image does not provide and the package does not "
        "ship where the loader looks"
        for library in native.needed
        if library not in provided and not any(library in shipped.get(folder, ()) for folder in folders)
    ]
    return broken, unlinked


def check_zip(package: Path, arch: str = "x86_64") -> Report:
    with tempfile.TemporaryDirectory(prefix="docpipe-artifact-") as tmp:
        with zipfile.ZipFile(package) as zf:
            zf.extractall(tmp)
        return check_tree(Path(tmp), arch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.artifact", description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="deployment.zip, or an unpacked package folder")
    parser.add_argument("--arch", choices=sorted(lambda_image.ELF_MACHINE), default="x86_64")
    args = parser.parse_args(argv)
    report = check_tree(args.package, args.arch) if args.package.is_dir() else check_zip(args.package, args.arch)
    print(f"{len(report.files)} native files checked against {lambda_image.RUNTIME} ({args.arch})")
    for line in report.optional:
        print(f"  optional  {line}")
    for line in report.problems:
        print(f"  PROBLEM   {line}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
