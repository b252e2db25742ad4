"""What the Lambda python3.13 runtime gives a deployment package, written down with where it comes from.

A package may link only libraries the runtime image provides or that it ships
itself (`deploy.artifact` checks every ELF file against this), and its code
runs with the runtime's loader path, module path and environment (the
artifact test reproduces them).

Sources (checked 2026-11):
- Lambda runtimes table: python3.13 runs on Amazon Linux 2023, x86_64 and arm64.
  https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
- AL2023's C library is glibc 2.34.
  https://docs.aws.amazon.com/linux/al2023/ug/glibc-gcc-and-binutils.html
- The packages of the AL2023 Python image (public.ecr.aws/lambda/python:3.12; 3.13 is built on the same
  AL2023 base), `rpm -qa`: glibc-2.34, glib2, file-libs (libmagic 5.39 and its database), bzip2-libs ...
  https://github.com/amazonlinux/amazon-linux-2023/issues/585
  glib2 requires zlib and libgcc (its rpm dependencies), so libz.so.1 and libgcc_s.so.1 are present too.
- The image's environment (LD_LIBRARY_PATH, LAMBDA_TASK_ROOT, LANG, TZ): the base image Dockerfile,
  https://github.com/aws/aws-lambda-base-images (branch python3.12, x86_64/Dockerfile.python3.12).
- Variables Lambda itself sets for every function:
  https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime

Not listed, so never relied on: libstdc++.so.6 (none of the sources shows it), OpenSSL, libffi, X11,
anything else of the image. A package that needs one must ship it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

RUNTIME: Final = "python3.13"
PYTHON: Final = (3, 13)
GLIBC: Final = (2, 34)
TASK_ROOT: Final = "/var/task"

# glibc 2.34's libraries (libpthread, libdl, librt, libutil and libanl are stubs kept for old binaries).
_GLIBC_LIBRARIES = frozenset(
    {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1", "libresolv.so.2",
     "libanl.so.1"}
)  # fmt: skip
_LOADER = {"x86_64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}
_ALSO_PROVIDED = frozenset({"libgcc_s.so.1", "libz.so.1"})

ELF_MACHINE: Final = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}
WHEEL_PLATFORM: Final = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

# The image's loader path: system libraries come before the package's own (/var/task, /var/task/lib).
LD_LIBRARY_PATH: Final = (
    "/var/lang/lib", "/lib64", "/usr/lib64", "/var/runtime", "/var/runtime/lib", "/var/task", "/var/task/lib",
    "/opt/lib",
)  # fmt: skip


def provided_libraries(arch: str = "x86_64") -> frozenset[str]:
    """Sonames the python3.13 image resolves for any package on `arch`."""
    if arch not in _LOADER:
        raise ValueError(f"Lambda has no {arch!r} architecture (x86_64 or arm64)")
    return _GLIBC_LIBRARIES | _ALSO_PROVIDED | {_LOADER[arch]}


CHALICE_CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"


def memory_size(function_name: str) -> int:
    """The memory .chalice/config.json gives the function named `function_name` (docpipe-<stage>[-<function>])."""
    config = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
    functions = config.get("lambda_functions", {})
    name = next((f for f in functions if function_name.endswith(f"-{f}")), "api_handler")
    return int(functions.get(name, {}).get("lambda_memory_size", config["lambda_memory_size"]))


def runtime_environment(function_name: str, region: str = "us-east-1") -> dict[str, str]:
    """The variables Lambda sets for a python3.13 function, besides the function's own configuration
    (credentials excepted: the caller supplies those). Its memory size is the configured one: the sandbox's
    parser bounds follow it (`chalicelib.config.ParserBudget`)."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size(function_name)),
        "LAMBDA_TASK_ROOT": TASK_ROOT,
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": ":".join(LD_LIBRARY_PATH),
    }
