"""Which extraction produced a document: one number, bumped whenever extraction output may change.

Every PROCESSED or FAILED document records `EXTRACTOR_VERSION` as
`extractor_version`; a backfill of stale documents re-extracts those recorded
with an older one (or none: documents processed before versions existed).

`SOURCES_DIGEST` pins what this version means: a digest of this package's
code (comments, docstrings and formatting ignored) and of the pinned
libraries in requirements.txt. tests/unit/test_extractor_version.py fails as
soon as either changes without a bump, and prints the two lines to write here.
"""

from __future__ import annotations

from typing import Final

EXTRACTOR_VERSION: Final = 23
SOURCES_DIGEST: Final = "1d56900f1ab6cea0fc498afadae351f711dd5b8b50a3b8bda236f002f584c2ab"
