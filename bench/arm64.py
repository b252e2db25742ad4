"""The arm64 (Graviton) package beside the x86_64 one: sizes, native files, and the code run on aarch64.

    python -m bench.arm64 --sysroot /path/to/arm64-root

Lambda bills arm64 about 20% less per GB-second than x86_64 (us-east-1:
$0.0000133334 against $0.0000166667; https://aws.amazon.com/lambda/pricing/).
Whether docpipe may use it depends on every native file existing for aarch64:
both packages are built (`deploy.package`) and checked (`deploy.artifact`),
then the arm64 one is run by an aarch64 Python 3.13 under qemu-aarch64
(user-mode emulation: it proves the code loads and works, not how fast it is
on Graviton) in the runtime's layout (deploy.lambda_local): imports, then
detection and extraction of one file of each kind (tests/support/families).

The sysroot is an arm64 Debian with python3.13, e.g. (as root, Debian's packages):
    apt-get install qemu-user-static debootstrap
    debootstrap --foreign --arch=arm64 --variant=minbase \\
      --include=python3.13-minimal,libpython3.13-stdlib,libffi8,zlib1g trixie ROOT http://deb.debian.org/debian
    for d in ROOT/var/cache/apt/archives/*.deb; do dpkg-deb -x "$d" ROOT; done
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from deploy import configure, lambda_local, package
from tests.support import families

PROBE = Path(lambda_local.__file__).with_name("lambda_probe.py")


def _probe(root: Path, site: Path, env: dict[str, str], python: list[str], *args: str) -> tuple[dict, float]:
    started = time.monotonic()
    proc = lambda_local.run(root, PROBE, list(args), env, site, timeout=3600, python=python)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE-RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{args[0]} on aarch64 failed: {proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("PROBE-RESULT ") :]), time.monotonic() - started


BINFMT_AARCH64 = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.arm64", description=__doc__.splitlines()[0])
    parser.add_argument("--sysroot", type=Path, required=True, help="an arm64 root with usr/bin/python3.13")
    args = parser.parse_args(argv)
    qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if qemu is None:
        raise SystemExit("qemu-aarch64-static is needed (apt-get install qemu-user-static)")
    built = {}
    for arch in ("x86_64", "arm64"):
        name = f"bench{arch.replace('_', '')}"
        built[arch] = package.build(configure.Stage(name, configure.example_outputs(name), arch=arch))
        b = built[arch]
        print(f"{arch:>7}: {b.zip_bytes / 1e6:.1f} MB zipped, {b.unpacked_bytes() / 1e6:.1f} MB unpacked, "
              f"{len(b.report.files)} native files for {arch}, {len(b.report.problems)} problems, "
              f"{len(b.report.optional)} optional")  # fmt: skip
    arm = built["arm64"]
    config = json.loads((arm.project / ".chalice" / "config.json").read_text())
    stage_env = config["stages"][arm.stage]["environment_variables"]
    env = lambda_local.environment(stage_env, f"docpipe-{arm.stage}-on_upload", multiarch="aarch64-linux-gnu")
    python = [qemu, "-L", str(args.sysroot), str(args.sysroot / "usr" / "bin" / "python3.13")]
    with tempfile.TemporaryDirectory(prefix="docpipe-arm64-") as tmp:
        root, samples = Path(tmp) / "task", Path(tmp) / "samples"
        with zipfile.ZipFile(arm.zip) as zf:
            zf.extractall(root)
        samples.mkdir()
        expected = {}
        for name, (data, family) in families.build().items():
            (samples / name).write_bytes(data)
            expected[name] = family
        site = lambda_local.runtime_site(Path(tmp) / "runtime")
        imported, seconds = _probe(root, site, env, python, "imports")
        print(f"aarch64 imports: {len(imported['extension_modules'])} extension modules, failed: "
              f"{imported['failed'] or 'none'}; libmagic {imported['libmagic']}; {seconds:.0f} s emulated")  # fmt: skip
        if not BINFMT_AARCH64.exists():
            # The extraction sandbox execs a zygote (sys.executable, an aarch64 binary): user-mode qemu runs the
            # emulated process only, and without the kernel's binfmt_misc entry for aarch64 that exec fails, so
            # extraction runs in-process here; the forked worker itself is not exercised on aarch64.
            env = {**env, "DOCPIPE_SANDBOX": "0"}
            print(f"no {BINFMT_AARCH64}: the sandbox's zygote cannot be exec'd under user-mode qemu; in-process")
        extracted, seconds = _probe(root, site, env, python, "extract", str(samples))
        extracted.pop("_native")
        got = {name: r.get("family") or r.get("error") for name, r in extracted.items()}
        wrong = {name: family for name, family in got.items() if family != expected[name]}
        print(f"aarch64 detection + extraction: {len(got) - len(wrong)}/{len(got)} files as on x86_64"
              f"{' ' + str(wrong) if wrong else ''}; {seconds:.0f} s emulated")  # fmt: skip
    return 0 if not wrong and not arm.report.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
