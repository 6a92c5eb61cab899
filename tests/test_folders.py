"""Atomic folder writes: old or new at the target, never neither, never a half; foreign files never deleted."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest

from eai_llm.folders import MANIFEST, check_replaceable, write_folder


def write_files(contents: str, count: int = 3):
    def write(folder):
        for i in range(count):
            (folder / f"part{i}.txt").write_text(contents)
        (folder / "sub").mkdir()
        (folder / "sub" / "last.txt").write_text(contents)
    return write


def contents_of(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_a_new_folder_is_written_with_its_manifest_and_replaced_whole(tmp_path):
    target = tmp_path / "out"
    write_folder(target, write_files("old", count=3))
    manifest = json.loads((target / MANIFEST).read_text())
    assert sorted(manifest["files"]) == ["part0.txt", "part1.txt", "part2.txt", "sub/last.txt"]
    assert manifest["folders"] == ["sub"] and manifest["files"]["part0.txt"][0] == 3  # size in bytes
    write_folder(target, write_files("new", count=1))
    assert sorted(contents_of(target)) == [MANIFEST, "part0.txt", "sub/last.txt"]  # nothing of the old left
    assert contents_of(target)["part0.txt"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_a_failing_writer_leaves_the_old_folder_and_no_staging(tmp_path):
    target = tmp_path / "out"
    write_folder(target, write_files("old"))

    def fail(folder):
        (folder / "part0.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_folder(target, fail)
    assert contents_of(target)["part0.txt"] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_folders_this_project_did_not_write_are_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="was not written by this project"):
        write_folder(mine, write_files("new"))
    assert contents_of(mine) == {"notes.txt": "precious"}
    ours = tmp_path / "ours"
    write_folder(ours, write_files("old"))
    (ours / "sub" / "added.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match=r"holds files this project did not write, or changed since \(sub/added.txt\)"):
        check_replaceable(ours)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is not a folder"):
        write_folder(tmp_path / "file", write_files("new"))
    empty = tmp_path / "empty"
    empty.mkdir()
    write_folder(empty, write_files("new"))
    assert contents_of(empty)["part0.txt"] == "new"


SLOW_WRITER = r"""
import sys, time
from pathlib import Path
from eai_llm.folders import write_folder

def write(folder):
    for i in range(40):
        (folder / f"part{i}.txt").write_text(sys.argv[2])
        time.sleep(0.005)

write_folder(Path(sys.argv[1]), write)
"""


def test_a_writer_killed_at_random_points_leaves_the_old_or_the_new_folder_and_the_next_run_cleans_up(tmp_path):
    target = tmp_path / "out"
    write_folder(target, lambda folder: [(folder / f"part{i}.txt").write_text("v0") for i in range(40)])
    rng = random.Random(0)
    for attempt in range(1, 9):
        process = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target), f"v{attempt}"])
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        versions = set(contents_of(target).values()) - {contents_of(target).get(MANIFEST)}
        assert len(versions) == 1, versions  # one whole version, never a mix or nothing
        assert len(contents_of(target)) == 41
    write_folder(target, lambda folder: (folder / "final.txt").write_text("done"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the killed runs' staging folders are gone


def test_an_edited_file_or_an_added_folder_is_never_replaced_but_datasets_caches_are(tmp_path):
    target = tmp_path / "out"
    write_folder(target, write_files("old"))
    (target / "sub" / "cache-1a2b.arrow").write_text("derived")  # what datasets writes when a corpus is filtered
    check_replaceable(target)
    (target / "extra").mkdir()
    with pytest.raises(FileExistsError, match=r"did not write, or changed since \(extra\)"):
        check_replaceable(target)
    (target / "extra").rmdir()
    time.sleep(0.01)
    (target / "part1.txt").write_text("edited by hand")
    with pytest.raises(FileExistsError, match=r"\(part1.txt\)"):
        write_folder(target, write_files("new"))
    assert (target / "part1.txt").read_text() == "edited by hand"


def test_without_an_atomic_exchange_the_fallback_swap_still_ends_with_the_new_folder(tmp_path, monkeypatch):
    import eai_llm.folders as folders

    monkeypatch.setattr(folders, "_exchange", lambda a, b: False)  # e.g. a network file system
    target = tmp_path / "out"
    write_folder(target, write_files("old"))
    write_folder(target, write_files("new", count=1))
    assert contents_of(target)["part0.txt"] == "new" and "part1.txt" not in contents_of(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
