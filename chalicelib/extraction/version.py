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
SOURCES_DIGEST: Final = "dd67d6dd8ee67ba4f32ef1be21300e9a7b652c67389bff2507f5f6892f286e3e"
