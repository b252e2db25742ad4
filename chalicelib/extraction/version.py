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

EXTRACTOR_VERSION: Final = 22
SOURCES_DIGEST: Final = "f4af0f9aac7bcb4cf2219c947a700dea0db7c03d816739e3352a53f2fedc94b1"
