"""Run Python from an unpacked deployment package as Lambda's python3.13 runtime would.

In a private mount namespace (`unshare --mount`; nothing outside the child
process sees it): the package read-only at /var/task, boto3 and its dependencies (what
the runtime ships beside the package) at /var/lang/lib/python3.13/site-packages,
the host's libmagic database hidden, and `python3.13 -I -S` with
sys.path = [/var/task, that site-packages, the standard library], the
runtime's loader path (the system's libraries first, then /var/task and
/var/task/lib) and an environment made only of what the caller passes (the
stage's variables, as deploy.configure writes them) and what Lambda itself
sets (`lambda_image.runtime_environment`). No PYTHONPATH, no site-packages,
no MAGIC or other variable a test might add.

The interpreter is this machine's Python 3.13 standing in for /var/lang; the
C library is the host's (newer than 2.34: `deploy.artifact` checks the
symbol versions instead).
"""

from __future__ import annotations

import compileall
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploy import lambda_image

RUNTIME_SITE = "/var/lang/lib/python3.13/site-packages"
# What the runtime provides beside the package (boto3 and what it needs).
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# Where Debian keeps libmagic's database: hidden, so only the package's can be found.
HOST_MAGIC = ("/usr/lib/file", "/usr/share/file", "/usr/share/misc")

_BOOT = (
    "import runpy, sys\n"
    f"sys.path[:0] = [{lambda_image.TASK_ROOT!r}, {RUNTIME_SITE!r}]\n"
    "script = sys.argv[1]\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(script, run_name='__main__')\n"
)


class IsolationUnavailable(RuntimeError):
    pass


def runtime_site(dest: Path) -> Path:
    """A folder with boto3 and its dependencies only (copied from this environment, compiled), as the runtime has."""
    if (dest / "boto3" / "__pycache__").is_dir():
        return dest
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in RUNTIME_DISTRIBUTIONS:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or ():
            rel = Path(str(file))
            if rel.parts[0].endswith((".dist-info", "..")) or rel.suffix == ".pyc" or "__pycache__" in rel.parts:
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staging / rel)
    # The runtime ships boto3 precompiled; /var/lang is read-only there too.
    compileall.compile_dir(str(staging), quiet=1, workers=1)
    staging.rename(dest)
    return dest


def loader_path(multiarch: str | None = None) -> str:
    """Lambda's LD_LIBRARY_PATH with this machine's system library folder first, where /lib64 stands."""
    if multiarch is None:
        multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    system = [f"/usr/lib/{multiarch}", f"/lib/{multiarch}"] if multiarch else []
    return ":".join([*system, *lambda_image.LD_LIBRARY_PATH])


def environment(
    stage_env: Mapping[str, str],
    function: str,
    extra: Mapping[str, str] | None = None,
    multiarch: str | None = None,
) -> dict[str, str]:
    env = {**lambda_image.runtime_environment(function), **stage_env, **(extra or {})}
    env["LD_LIBRARY_PATH"] = loader_path(multiarch)
    return env


def run(
    package: Path,
    script: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    site: Path | None = None,
    timeout: float = 600,
    python: Sequence[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `script` (outside the package) with the package mounted at /var/task; returns the finished process.

    `python`: the interpreter's command (default: this Python 3.13), e.g. an aarch64 python3.13 under
    qemu-aarch64 for an arm64 package."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise IsolationUnavailable("unshare (util-linux) is needed to mount the package at /var/task")
    interpreter = list(python) if python else [os.path.realpath(sys.executable)]
    mounts = [
        "set -e",
        "mount -t tmpfs tmpfs /var",
        f"mkdir -p {lambda_image.TASK_ROOT} {RUNTIME_SITE}",
        f'mount --bind "$1" {lambda_image.TASK_ROOT}',
        f"mount -o remount,bind,ro {lambda_image.TASK_ROOT}",  # read-only, as on Lambda: nothing compiled is kept
        f'mount --bind "$2" {RUNTIME_SITE}',
        f"mount -o remount,bind,ro {RUNTIME_SITE}",
        *(f"[ ! -d {d} ] || mount -t tmpfs tmpfs {d}" for d in HOST_MAGIC),
        f"cd {lambda_image.TASK_ROOT}",
        'shift 2; exec "$@"',
    ]
    command = [
        unshare, "--mount", "--propagation", "private", "sh", "-c", "\n".join(mounts), "lambda-local",
        str(package.resolve()), str((site or package).resolve()),
        *interpreter, "-I", "-S", "-c", _BOOT, str(script.resolve()), *args,
    ]  # fmt: skip
    proc = subprocess.run(
        command,
        env=dict(env or {}),
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        raise IsolationUnavailable(proc.stderr.strip())
    return proc
