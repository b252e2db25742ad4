"""Build a stage's deployment artifacts offline: the Lambda zip and the SAM template.

    python -m deploy.package --stage prod --stack docpipe-prod-infra   (outputs read from AWS)
    python -m deploy.package --stage prod --outputs outputs.json       (offline)
    python -m deploy.package --stage demo                              (deploy/outputs.example.json)

Writes artifacts/<stage>/: project/ (the copy of the app that was packaged,
with the stage's .chalice/config.json and policies), app-overrides.json (the
merge template), package/sam.json and package/deployment.zip. Steps: the
sources are copied (the working tree is never touched), configured from the
infra stack's outputs (`deploy.configure`), given vendor/ (`deploy.vendor`),
packaged by `chalice package --merge-template`, given precompiled bytecode
(`deploy.bytecode`) and checked native file by native file
(`deploy.artifact`): a package that would not load on Lambda is refused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from deploy import artifact, bytecode, configure, lambda_image, vendor
from deploy.configure import example_outputs
from deploy.templates import REPO

__all__ = ["Built", "build", "copy_sources", "example_outputs", "sync_cache"]

SOURCES = ("app.py", "chalicelib", "requirements.txt", ".chalice/config.json")
# What builds reuse: Chalice's dependency zips (keyed by requirements and vendor/) and the vendored libmagic.
# DOCPIPE_BUILD_CACHE moves it out of the checkout (CI keeps it between clean clones); default: gitignored here.
BUILD_CACHE = Path(os.environ.get("DOCPIPE_BUILD_CACHE") or REPO / ".chalice")
DEPENDENCY_CACHE = BUILD_CACHE / "deployments"


def vendor_cache(arch: str) -> Path:
    return vendor.ensure(BUILD_CACHE / f"vendor-{arch}", arch)


@dataclass(frozen=True)
class Built:
    stage: str
    root: Path
    project: Path
    template: Path
    zip: Path
    report: artifact.Report
    pyc: int
    outputs: dict[str, str]

    @property
    def zip_bytes(self) -> int:
        return self.zip.stat().st_size

    def unpacked_bytes(self) -> int:
        with zipfile.ZipFile(self.zip) as zf:
            return sum(i.file_size for i in zf.infolist())


def copy_sources(dest: Path, source: Path = REPO) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for name in SOURCES:
        src, target = source / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copyfile(src, target)


def sync_cache(src: Path, dest: Path, keep: int = 4) -> None:
    """Copy Chalice's cached dependency zips (keyed by requirements and vendor/) that dest lacks; keep the
    `keep` newest there."""
    if src.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        for zipped in sorted(src.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)[:keep]:
            if not (dest / zipped.name).exists():
                shutil.copy2(zipped, dest / zipped.name)
        for stale in sorted(dest.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
            stale.unlink()


def chalice_package(project: Path, stage: str, merge: Path, out: Path, region: str) -> None:
    chalice = Path(sys.executable).parent / "chalice"
    command = [str(chalice) if chalice.exists() else "chalice", "package", "--stage", stage]
    command += ["--merge-template", str(merge), str(out)]
    env = {**os.environ, "AWS_DEFAULT_REGION": region}
    proc = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"chalice package failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def build(
    stage: configure.Stage,
    dest: Path | None = None,
    precompile: bool = True,
    source: Path = REPO,
) -> Built:
    """Configure, package, precompile and check one stage; returns what was written."""
    root = dest or source / "artifacts" / stage.name
    project = root / "project"
    copy_sources(project, source)
    configure.configure(stage, project)
    arch = stage.arch
    shutil.copytree(vendor_cache(arch), project / "vendor", ignore=shutil.ignore_patterns(vendor.STAMP))
    merge = root / "app-overrides.json"
    shutil.copyfile(project / "artifacts" / stage.name / "app-overrides.json", merge)
    out = root / "package"
    if out.exists():
        shutil.rmtree(out)
    sync_cache(DEPENDENCY_CACHE, project / ".chalice" / "deployments")
    chalice_package(project, stage.name, merge, out, stage.outputs["Region"])
    sync_cache(project / ".chalice" / "deployments", DEPENDENCY_CACHE)
    package = out / "deployment.zip"
    pyc = bytecode.add_to_zip(package) if precompile else 0
    report = artifact.check_zip(package, arch)
    if not report.ok:
        raise RuntimeError(
            f"{package} would not load on Lambda {lambda_image.RUNTIME} ({arch}):\n  " + "\n  ".join(report.problems)
        )
    return Built(stage.name, root, project, out / "sam.json", package, report, pyc, dict(stage.outputs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.package", description=__doc__.splitlines()[0])
    configure.add_stage_arguments(parser, required=False)  # neither: deploy/outputs.example.json
    parser.add_argument("--arch", choices=sorted(lambda_image.ELF_MACHINE), default="x86_64")
    parser.add_argument("--xray", action="store_true", help="turn on X-Ray active tracing")
    parser.add_argument("--no-reserved", action="store_true", help="no reserved concurrency (new accounts)")
    parser.add_argument("--no-bytecode", action="store_true", help="ship sources only (slower cold starts)")
    args = parser.parse_args(argv)
    outputs = configure.load_outputs(args.stage, args.outputs, args.stack, args.region)
    if outputs.get("Stage") != args.stage:
        print(f"the outputs are for stage {outputs.get('Stage')!r}, not {args.stage!r}", file=sys.stderr)
        return 2
    stage = configure.Stage(args.stage, outputs, xray=args.xray, reserve=not args.no_reserved, arch=args.arch)
    try:
        built = build(stage, precompile=not args.no_bytecode)
    except (configure.ConfigurationError, KeyError, RuntimeError) as exc:
        print(f"cannot package stage {args.stage}: {exc}", file=sys.stderr)
        return 2
    rel = built.root.relative_to(REPO) if built.root.is_relative_to(REPO) else built.root
    print(f"{rel}/package/sam.json")
    print(f"{rel}/package/deployment.zip: {built.zip_bytes / 1e6:.1f} MB zipped, "
          f"{built.unpacked_bytes() / 1e6:.1f} MB unpacked, {built.pyc} precompiled modules")  # fmt: skip
    print(f"{len(built.report.files)} native files load on {lambda_image.RUNTIME} ({args.arch})")
    for line in built.report.optional:
        print(f"  optional: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
