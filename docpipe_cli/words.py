"""How the CLI's human output spells what the API sends as constants: in the lower case the rest of it uses."""

from __future__ import annotations

from typing import Any


def word(status: Any) -> str:
    """PROCESSED -> processed, COMPLETE_WITH_ERRORS -> complete with errors (`show` keeps the API's JSON)."""
    return str(status).lower().replace("_", " ")
