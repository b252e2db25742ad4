"""`python -m local`: run the whole stack in the foreground until Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from local.provision import DEFAULT_ADMIN_PASSWORD, DEFAULT_DEMO_PASSWORD, StackNames
from local.stack import AlreadyRunning, LocalStack


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        sys.exit(f"{name} must be a port number, got {raw!r}")


def main() -> int:
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
    )
    started = time.monotonic()
    try:
        stack.start()
    except AlreadyRunning as exc:
        print(f"docpipe: {exc}", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(stack.banner(), flush=True)
    print(f"(ready in {time.monotonic() - started:.1f}s)", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print("\nstopping docpipe...", flush=True)
        stack.stop()
        print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
