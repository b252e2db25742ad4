"""`python -m local`: run the whole stack in the foreground until Ctrl-C.

    python -m local                 restore the data folder's last snapshot, run, save on the way out
    python -m local --fresh         forget the data folder first, start empty
    python -m local --clean-data    forget the data folder and exit (`make clean-data`)

The data folder is DOCPIPE_DATA_DIR (default `local-data/` in the repository); the ports are
DOCPIPE_API_PORT (8000) and DOCPIPE_AWS_PORT (4566).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from local.data import DataFolder, DataFolderBusy
from local.provision import DEFAULT_ADMIN_PASSWORD, DEFAULT_DEMO_PASSWORD, StackNames
from local.stack import ROOT, AlreadyRunning, LocalStack

DEFAULT_DATA_DIR = ROOT / "local-data"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        sys.exit(f"{name} must be a port number, got {raw!r}")


def data_dir() -> Path:
    raw = os.environ.get("DOCPIPE_DATA_DIR", "").strip()
    return Path(raw).expanduser().resolve() if raw else DEFAULT_DATA_DIR


def clean_data(folder: Path) -> int:
    data = DataFolder(folder)
    try:
        data.lock()
    except DataFolderBusy as exc:
        print(f"docpipe: {exc}", file=sys.stderr)
        return 1
    try:
        data.wipe()
    finally:
        data.unlock()
    print(f"docpipe: {folder} is empty; the next `make run` starts a new stack")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description="docpipe's local stack")
    parser.add_argument("--fresh", action="store_true", help="forget the data folder and start empty")
    parser.add_argument("--clean-data", action="store_true", help="forget the data folder and exit")
    args = parser.parse_args(argv)
    folder = data_dir()
    if args.clean_data:
        return clean_data(folder)
    logging.basicConfig(level=os.environ.get("DOCPIPE_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    names = StackNames(
        demo_password=os.environ.get("DOCPIPE_DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD),
        admin_password=os.environ.get("DOCPIPE_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD),
    )
    stack = LocalStack(
        host=os.environ.get("DOCPIPE_HOST", "127.0.0.1"),
        api_port=_port("DOCPIPE_API_PORT", 8000),
        aws_port=_port("DOCPIPE_AWS_PORT", 4566),
        names=names,
        data_dir=folder,
        fresh=args.fresh,
    )
    started = time.monotonic()
    try:
        stack.start()
    except (AlreadyRunning, DataFolderBusy) as exc:
        print(f"docpipe: {exc}", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal was closed
        signal.signal(sig, _stop)
    print(stack.banner(), flush=True)
    print(f"(ready in {time.monotonic() - started:.1f}s)", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print("\nstopping docpipe...", flush=True)
        saved = stack.stop()
        if saved is not None:
            print(f"saved {saved} to {folder}", flush=True)
        print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
