"""Pieces of the local stack's data folder that need no emulator."""

from __future__ import annotations

from pathlib import Path

from local.data import DataFolder, rewrite, value_from_json, value_to_json


def test_dynamodb_values_survive_json_including_binary_sets_and_nesting() -> None:
    value = {"M": {"b": {"B": b"\x00\x01"}, "bs": {"BS": [b"a", b"\xff"]}, "l": {"L": [{"N": "1"}, {"NULL": True}]}}}
    import json

    assert value_from_json(json.loads(json.dumps(value_to_json(value)))) == value


def test_rewriting_a_sub_reaches_every_string_and_map_key_and_nothing_else() -> None:
    old, new = "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    value = {"S": f"uploads/{old}/x.pdf", "M": {f"OWNER#{old}": [old, 3, None, "other"]}}
    assert rewrite(value, {old: new}) == {"S": f"uploads/{new}/x.pdf", "M": {f"OWNER#{new}": [new, 3, None, "other"]}}
    assert rewrite(value, {}) is value


def test_wiping_a_data_folder_forgets_every_snapshot_but_keeps_the_lock(tmp_path: Path) -> None:
    folder = DataFolder(tmp_path / "data")
    folder.lock()
    (folder.path / "snapshot-1").mkdir()
    (folder.path / "snapshot-1" / "state.json").write_text('{"format": 1}')
    (folder.path / "current").write_text("snapshot-1")
    assert folder.current() is not None
    folder.wipe()
    assert folder.current() is None and sorted(p.name for p in folder.path.iterdir()) == [".lock"]
    folder.unlock()
