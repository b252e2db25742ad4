"""python-magic, bound to the packaged libmagic wherever the deployment ships one.

python-magic loads `libmagic.so.1` by soname when it is imported, and on Lambda
the runtime image's /lib64 (whose libmagic reads another database format) comes
before the package's /var/task/lib on the loader path. A library already loaded
answers a later dlopen of its soname, so the packaged one (DOCPIPE_LIBMAGIC, set
by deploy.configure with MAGIC naming its database) is loaded by path first.
Detection imports python-magic from here, never directly.
"""

from __future__ import annotations

import ctypes

from chalicelib.config import Settings

_PACKAGED = Settings.from_env().libmagic_path
if _PACKAGED:
    ctypes.CDLL(_PACKAGED)

import magic  # noqa: E402 - only once the packaged library is loaded (see above)

__all__ = ["magic"]
