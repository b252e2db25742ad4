"""Cold imports of each Lambda function from the deployment zip, with and without precompiled bytecode.

    python -m bench.coldstart [--runs 5] [--zip artifacts/demo/package/deployment.zip]

The zip (built by `make package STAGE=demo` when not given) is unpacked
twice: as built, and with every __pycache__ removed. Each function's cold
import runs in deploy.lambda_local (the package read-only at /var/task, as on
Lambda, so nothing compiled is kept between runs): `import app`, then every
chalicelib module the function can reach (deploy.calls), which is what its
first invocation imports before it touches a file's parser. Both variants run
alternately in one session and the medians are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import zipfile
from pathlib import Path

from deploy import bytecode, calls, configure, lambda_local, package
from deploy.templates import REPO

PROBE = Path(lambda_local.__file__).with_name("lambda_probe.py")
# The parsing libraries a function's first file pulls in (imported lazily, not by the modules above).
FIRST_FILE = {"on_upload": ["pypdf", "PIL.Image"], "on_reprocess": ["pypdf", "PIL.Image"]}


def handler_modules() -> dict[str, list[str]]:
    found = calls.function_calls(REPO)
    return {fn: sorted(m for m in f.modules if m != "app") + FIRST_FILE.get(fn, []) for fn, f in found.items()}


def cold_import(root: Path, site: Path, env: dict[str, str], function: str, modules: list[str]) -> tuple[float, int]:
    """Seconds to import, and how many of the package's modules were imported (each compiled without .pyc)."""
    proc = lambda_local.run(root, PROBE, ["cold", *modules], lambda_local.environment(env, function), site)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE-RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"cold import of {function} failed: {proc.stderr[-2000:]}")
    result = json.loads(lines[-1][len("PROBE-RESULT ") :])
    return float(result["total"]), int(result["modules"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--zip", type=Path)
    args = parser.parse_args(argv)
    stage_dir = REPO / "artifacts" / "demo"
    if args.zip is None:
        built = package.build(configure.Stage("demo", package.example_outputs("demo")))
        args.zip, stage_dir = built.zip, built.root
    config = json.loads((stage_dir / "project" / ".chalice" / "config.json").read_text())
    env = next(iter(config["stages"].values()))["environment_variables"]
    with tempfile.TemporaryDirectory(prefix="docpipe-coldstart-") as tmp:
        with_pyc, without_pyc = Path(tmp) / "with", Path(tmp) / "without"
        for root in (with_pyc, without_pyc):
            with zipfile.ZipFile(args.zip) as zf:
                zf.extractall(root)
        bytecode.strip_tree(without_pyc)
        site = lambda_local.runtime_site(Path(tmp) / "runtime")
        print(f"{args.zip}: {args.zip.stat().st_size / 1e6:.1f} MB; median of {args.runs} cold imports each (ms)")
        print(f"{'function':<20}{'package modules':>16}{'without .pyc':>14}{'with .pyc':>11}{'ratio':>8}")
        for function, modules in sorted(handler_modules().items()):
            times: dict[str, list[float]] = {"with": [], "without": []}
            imported = 0
            for _ in range(args.runs):
                for name, root in (("without", without_pyc), ("with", with_pyc)):
                    seconds, imported = cold_import(root, site, env, function, modules)
                    times[name].append(seconds)
            slow, fast = statistics.median(times["without"]), statistics.median(times["with"])
            print(f"{function:<20}{imported:>16}{slow * 1000:>14.0f}{fast * 1000:>11.0f}{slow / fast:>7.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
