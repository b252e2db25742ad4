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

EXTRACTOR_VERSION: Final = 17
SOURCES_DIGEST: Final = "2ffc4d0ee9ac4b0d16bb41f96bd71d7dc30a7456b445a1e5302fcb8168009497"
