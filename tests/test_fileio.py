"""Atomic writes: a failed write leaves the old file whole and no temporary file behind."""

import stat

import pytest

from envs.fileio import atomic_save, atomic_write_bytes, atomic_write_text


def test_write_replaces_and_sets_shareable_permissions(tmp_path):
    target = tmp_path / "sub" / "a.json"
    atomic_write_text(target, "one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.zip"
    atomic_write_bytes(target, b"old")

    def crash(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_save(target, crash)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_temporary_file_keeps_the_suffix_the_writer_needs(tmp_path):
    seen = []
    atomic_save(tmp_path / "plot.png", lambda tmp: (seen.append(tmp), open(tmp, "wb").close()))
    assert seen[0].endswith(".png")


def test_read_json_object_checks_size_syntax_and_kind_before_trusting_a_file(tmp_path):
    import pytest

    from envs.fileio import read_json_object

    path = tmp_path / "side.json"
    path.write_text('{"steps": 5}')
    assert read_json_object(path, 100, "sidecar") == {"steps": 5}
    path.write_text('{"steps": ' + "1" * 200 + "}")
    with pytest.raises(ValueError, match=r"side\.json: the file is larger than the limit of 100 bytes"):
        read_json_object(path, 100, "sidecar")
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"not a sidecar \(a JSON object expected\)"):
        read_json_object(path, 100, "sidecar")
    path.write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_json_object(path, 100, "sidecar")
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ValueError, match="not UTF-8"):
        read_json_object(path, 100, "sidecar")
