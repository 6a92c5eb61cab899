"""Writing a folder atomically: the one mechanism every writer of the project uses (corpora, encoders,
merged models, adapters, evaluation reports, exports, the converted offline LLM, the WordNet copy).

:func:`write_folder` builds the new folder beside the target under a temporary name, then swaps it in
with one ``renameat2(RENAME_EXCHANGE)`` call (Linux), so at every moment the target path holds either
the complete old folder or the complete new one. Where the file system cannot exchange (e.g. some
network file systems), it falls back to two renames: between them the target is briefly absent, the old
folder kept aside as ``.<name>.old-<pid>``, which the next write puts back if the writer was killed
there. A folder is replaced only if this project wrote it: it holds the manifest :data:`MANIFEST` and
exactly what the manifest lists (a file a user added or edited is never deleted). A writer killed
half-way leaves a ``.<name>.partial-<pid>`` folder, which the next write to the same target removes
(:func:`temporary_folder` does the same for scratch folders). Files are not fsync'ed: the guarantee
is against a killed process, not a power loss. The standard library has no directory swap and no
such ownership rule, hence this module.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import fnmatch
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

MANIFEST = ".eai-llm-manifest.json"
_RENAME_EXCHANGE = 2


def write_folder(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Write a folder with ``write(staging_folder)`` and put it at ``target`` atomically.

    Raises ``FileExistsError`` (naming the files) when ``target`` exists and is not a folder this project
    wrote, or holds files its manifest does not list; nothing is written then. If ``write`` raises, the
    target is untouched and the staging folder removed. Returns ``target``.
    """
    target = Path(target)
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        write(staging)
        (staging / MANIFEST).write_text(json.dumps(_inventory(staging), indent=1))
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after a swap it holds the old folder
    return target


def write_file(path: str | Path, text: str | bytes) -> Path:
    """Write a file (text, or bytes) atomically (a temporary sibling, then ``os.replace``): a reader sees the
    old content or the new, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_bytes(text) if isinstance(text, bytes) else partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def check_replaceable(target: str | Path) -> None:
    """Raise ``FileExistsError`` unless ``target`` is absent, an empty folder, or a folder written by
    :func:`write_folder` that still holds exactly what its manifest lists: no file or folder added, none
    changed since (size and modification time). Cache files that ``datasets`` writes beside a corpus's
    Arrow files (``cache-*.arrow``, made when a loaded corpus is filtered or relabelled) are derived data
    and do not count."""
    target = Path(target)
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir() or target.is_symlink():
        raise FileExistsError(f"{target}: exists and is not a folder, expected a new or empty folder or one this "
                              "project wrote; refusing to replace it")
    if not any(target.iterdir()):
        return
    try:
        written = json.loads((target / MANIFEST).read_text())
        listed = {"files": dict(written["files"]), "folders": list(written["folders"])}
    except (OSError, ValueError, KeyError, TypeError):
        raise FileExistsError(f"{target}: exists and was not written by this project (no readable {MANIFEST}), "
                              "expected a new or empty folder; refusing to replace it") from None
    present = _inventory(target)
    foreign = sorted({name for name, stamp in present["files"].items()
                      if listed["files"].get(name) != stamp and not _is_dataset_cache(name)}
                     | (set(present["folders"]) - set(listed["folders"])))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise FileExistsError(f"{target}: holds files this project did not write, or changed since ({shown}); move "
                              "them away or choose another folder; refusing to replace it")


def _inventory(folder: Path) -> dict:
    """``{"files": {relative path: [size, mtime_ns]}, "folders": [relative paths]}`` of ``folder``, the
    manifest left out."""
    entries = sorted(p for p in folder.rglob("*") if p.name != MANIFEST or p.parent != folder)
    return {"files": {p.relative_to(folder).as_posix(): [p.stat().st_size, p.stat().st_mtime_ns]
                      for p in entries if p.is_file()},
            "folders": [p.relative_to(folder).as_posix() for p in entries if p.is_dir()]}


def _is_dataset_cache(name: str) -> bool:
    return fnmatch.fnmatch(name.rpartition("/")[2], "cache-*.arrow")


def _swap_in(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``; afterwards ``staging`` holds the old folder, if there was one."""
    if not target.exists():
        staging.rename(target)
        staging.mkdir()
        return
    if _exchange(staging, target):
        return
    aside = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(aside)
    staging.rename(target)
    aside.rename(staging)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux's ``renameat2``; False where it is not available."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name, use_errno=True) if name else None
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0


def temporary_folder(prefix: str) -> tempfile.TemporaryDirectory:
    """A temporary folder named ``<prefix><pid>-…`` in the system's temporary directory; those of processes
    that are no longer running (killed before they could remove theirs) are removed first."""
    for leftover in Path(tempfile.gettempdir()).glob(f"{prefix}*-*"):
        pid = leftover.name[len(prefix):].partition("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-")


def _remove_stale_staging(target: Path) -> None:
    """Remove ``.<name>.partial-<pid>`` / ``.<name>.old-<pid>`` folders of writers that are no longer running,
    and put back an old folder that a killed fallback swap left aside."""
    for leftover in target.parent.glob(f".{target.name}.*-*"):
        kind, _, pid = leftover.name.rpartition("-")
        if not pid.isdigit() or not kind.endswith((".partial", ".old")) or _running(int(pid)):
            continue
        if kind.endswith(".old") and not target.exists():
            leftover.rename(target)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
