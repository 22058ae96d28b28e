"""Write stage: a build's outputs replace the previous ones together or not at all, and only
where publish made them.

The outputs of one build (the EPUB, the PDF, the web edition's folder) are one transaction:

1. **check**: each destination is absent, already holds exactly the new bytes (then it is left
   alone), or holds what publish wrote there last. Anything else is the user's, and is an error
   naming it, unless `force` was given: then it is replaced, and a note says so.
2. **stage**: every output is written in full beside its destination under a hidden temporary
   name, so a full disk or a read-only folder fails here, before anything was replaced.
3. **swap**: each staged output trades places with its destination in one step (Linux's
   `renameat2(RENAME_EXCHANGE)`; where that is missing a hard link keeps the old file and a
   folder takes two renames), the previous version staying under the temporary name until every
   swap has succeeded. A failure half-way swaps back the ones already done.
4. **finish**: the record is brought up to date, then the previous versions are removed.

What publish wrote is recorded in the output folder itself, in `.publish-outputs.json`: each
output's name with the SHA-256 of what was written (a folder's digest covers every path and byte
in it). A record beside the outputs rather than a marker inside each: a marker cannot be added to
an EPUB or a PDF without changing their bytes, one inside the web edition would be published with
it, and only a digest tells that the user changed or replaced an output since. While the swaps run,
the record accepts both the previous and the new digest of each output and names the temporary
paths, so a build killed half-way leaves nothing the next one refuses or cannot clean up.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .diagnostics import BuildFailed, Diagnostic, Severity, error

RECORD = ".publish-outputs.json"
RECORD_ABOUT = ("What publish wrote in this folder. A build replaces a file or folder here only while it is "
                "exactly as publish left it: anything else needs --force.")
_TEMP_MARK = ".publish-"  # in the name of every temporary path, `.<output>.publish-<random>`

# A file's bytes, or a folder's files by their relative path ("styles/web.css").
Output = bytes | Mapping[str, bytes]


@dataclass(frozen=True, slots=True)
class Written:
    paths: tuple[Path, ...]  # every output, in the order given: all now hold the new bytes
    changed: tuple[Path, ...]  # those that were created or replaced (the others held them already)
    notes: tuple[Diagnostic, ...]  # what --force removed


# -- atomic renames ------------------------------------------------------------------------------
# Python has no renameat2(2); the C library has had it since glibc 2.28. A small package wraps it
# (`renameat2` on PyPI), unmaintained since 2022; the ctypes call below is the same few lines.

_AT_FDCWD = -100
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def _libc_renameat2():  # noqa: ANN202 - a ctypes function, or None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_renameat2_function = _libc_renameat2()


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """Rename with `flags`; False if this system or file system cannot (then the caller falls back)."""
    if _renameat2_function is None:
        return False
    if _renameat2_function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(target))


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths (files or folders) in one step; False where the system cannot."""
    return _renameat2(a, b, _RENAME_EXCHANGE)


def move_new(source: Path, target: Path) -> bool:
    """Rename `source` to `target`, failing if `target` exists; False where the system cannot."""
    return _renameat2(source, target, _RENAME_NOREPLACE)


# -- digests and descriptions --------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(entries: list[tuple[str, str]]) -> str:
    """The digest of a folder from (relative path, what is there) pairs."""
    digest = hashlib.sha256(b"publish folder v1\n")
    for name, what in sorted(entries):
        digest.update(f"{name}\0{what}\n".encode("utf-8", "surrogateescape"))
    return "folder:" + digest.hexdigest()


def digest_output(data: Output) -> str:
    if isinstance(data, bytes):
        return "file:" + _sha(data)
    return _tree([(PurePosixPath(name).as_posix(), "file " + _sha(content)) for name, content in data.items()])


def digest_path(path: Path) -> str | None:
    """The digest of what is at `path` now (comparable with `digest_output`), None if nothing is.
    Never follows a symbolic link and never opens anything but a regular file."""
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):  # NotADirectoryError: a file stands where a folder should
        return None
    if stat.S_ISREG(info.st_mode):
        return "file:" + _sha(path.read_bytes())
    if stat.S_ISLNK(info.st_mode):
        return "link:" + _sha(os.fsencode(os.readlink(path)))
    if not stat.S_ISDIR(info.st_mode):
        return f"special:{info.st_mode:o}"
    entries = []
    for folder, folders, files in os.walk(path, onerror=_raise):
        here = Path(folder)
        relative = here.relative_to(path).as_posix()
        if not folders and not files and here != path:
            entries.append((relative, "folder"))
        for name in folders + files:
            item = here / name
            mode = item.lstat().st_mode
            key = (here / name).relative_to(path).as_posix()
            if stat.S_ISLNK(mode):
                entries.append((key, "link " + os.readlink(item)))
            elif stat.S_ISREG(mode):
                entries.append((key, "file " + _sha(item.read_bytes())))
            elif not stat.S_ISDIR(mode):
                entries.append((key, f"special {mode:o}"))
    return _tree(entries)


def _holds(path: Path, data: Output) -> bool:
    """True if `path` is exactly `data` already: a regular file with these bytes, or a folder
    with these files and nothing else (no link, no empty folder, no other file)."""
    try:
        info = path.lstat()
        if isinstance(data, bytes):
            return stat.S_ISREG(info.st_mode) and info.st_size == len(data) and path.read_bytes() == data
        if not stat.S_ISDIR(info.st_mode):
            return False
        wanted = {PurePosixPath(name).as_posix(): content for name, content in data.items()}
        folders = {parent.as_posix() for name in wanted for parent in PurePosixPath(name).parents} - {"."}
        for folder, subfolders, files in os.walk(path, onerror=_raise):
            here = Path(folder).relative_to(path)
            for name in subfolders:
                item = Path(folder) / name
                if item.is_symlink() or (here / name).as_posix() not in folders:
                    return False
            for name in files:
                item, key = Path(folder) / name, (here / name).as_posix()
                mode = item.lstat().st_mode
                content = wanted.pop(key, None)
                if content is None or not stat.S_ISREG(mode) or item.stat().st_size != len(content) \
                        or item.read_bytes() != content:
                    return False
        return not wanted
    except OSError:
        return False


def _raise(exc: OSError) -> None:
    raise exc


def describe(path: Path) -> str:
    """What is at `path`, in a few words: what the user would lose."""
    try:
        info = path.lstat()
    except OSError:
        return "nothing"
    if stat.S_ISLNK(info.st_mode):
        return f"a symbolic link to '{os.readlink(path)}'"
    if stat.S_ISREG(info.st_mode):
        return f"a file of {info.st_size:,} bytes"
    if not stat.S_ISDIR(info.st_mode):
        return "a special file"
    try:
        files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if not p.is_dir() or p.is_symlink())
    except OSError:
        return "a folder"
    if not files:
        return "an empty folder"
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3:,} more" if len(files) > 3 else "")
    return f"a folder holding {len(files):,} file{'s' * (len(files) != 1)}: {shown}"


# -- the record ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Record:
    outputs: dict[str, list[str]] = field(default_factory=dict)  # name -> digests publish wrote there
    temporary: list[str] = field(default_factory=list)  # names of its temporary paths, while a commit runs

    def owns(self, name: str, digest: str | None) -> bool:
        return digest is not None and digest in self.outputs.get(name, ())

    def encode(self) -> bytes:
        shape: dict[str, object] = {"about": RECORD_ABOUT, "version": 1,
                                    "outputs": {name: sorted(set(d)) for name, d in sorted(self.outputs.items())}}
        if self.temporary:
            shape["temporary"] = sorted(set(self.temporary))
        return (json.dumps(shape, indent=2, ensure_ascii=False) + "\n").encode()


def _read_record(path: Path) -> _Record | None:
    """The record at `path`: an empty one if there is none, None if what is there is not one."""
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return _Record()
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        shape = json.loads(path.read_bytes())
        outputs = shape["outputs"]
        temporary = shape.get("temporary", [])
        valid = (shape.get("version") == 1 and isinstance(outputs, dict) and isinstance(temporary, list)
                 and all(isinstance(d, list) and all(isinstance(x, str) for x in d) for d in outputs.values())
                 and all(isinstance(t, str) for t in temporary))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not valid:
        return None
    return _Record({str(k): list(v) for k, v in outputs.items()}, [t for t in temporary if _is_temporary(t)])


def _is_temporary(name: str) -> bool:
    """A name this module gives its temporary paths: never a path into another folder."""
    return name.startswith(".") and _TEMP_MARK in name and "/" not in name and "\\" not in name and name not in {".", ".."}


# -- the transaction -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    name: str
    dest: Path
    data: Output | None  # None: the record, staged separately
    new: str  # digest of the new content
    old: str | None  # digest of what is there now
    staged: Path | None = None
    previous: Path | None = None  # where the replaced version is kept until the end
    how: str = ""  # how it was put in place: "exchange", "link", "renames" or "new"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _hint_write(out_dir: Path) -> str:
    return (f"check that '{out_dir}' is a folder you may write to, on a disk with room left; "
            "or choose another output folder with -o")


def commit(out_dir: Path, outputs: Mapping[str, Output], *, force: bool = False,
           protect: Path | None = None) -> Written:
    """Put `outputs` (names inside `out_dir` -> a file's bytes or a folder's files) in place as
    one transaction (see the module's docstring). Raises `BuildFailed` having changed nothing,
    or, if even putting back failed, saying exactly what is where. `protect` (the book folder) is
    never written into or replaced."""
    steps = [_Step(name, out_dir / name, data, "", None) for name, data in outputs.items()]
    if protect is not None:
        book = protect.resolve()
        for step in steps:
            if book.is_relative_to(step.dest.resolve()):
                raise BuildFailed([error("output-in-book", f"writing '{step.dest}' would replace the book folder",
                                         file=step.dest, hint="a build never writes into the book folder: choose "
                                                              "another folder with -o")])
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildFailed([error("write", f"cannot write into '{out_dir}': it is a file, not a folder", file=out_dir,
                                 hint="choose another output folder with -o")])
    record_path = out_dir / RECORD
    try:
        record = _read_record(record_path)
        notes: list[Diagnostic] = []
        problems: list[Diagnostic] = []
        if record is None:
            if not force:
                problems.append(_in_the_way(record_path, "is not publish's record of what it wrote here"))
            else:
                notes.append(_removed(record_path))
            record = _Record()
        # Most rebuilds change few outputs, and a rebuild that changes nothing must stay quick:
        # comparing bytes is far quicker than hashing them, and when every output is in place and
        # recorded already, there is nothing to hash at all.
        held = [_holds(step.dest, step.data) for step in steps]
        if all(held) and not problems and not record.temporary and all(s.name in record.outputs for s in steps):
            return Written(tuple(s.dest for s in steps), (), ())
        for step, same in zip(steps, held):
            step.new = digest_output(step.data)
            step.old = step.new if same else digest_path(step.dest)
            if step.old is None or step.old == step.new or record.owns(step.name, step.old):
                continue
            changed = step.name in record.outputs
            if force:
                notes.append(_removed(step.dest, changed=changed))
            elif changed:
                problems.append(_in_the_way(step.dest, "was changed after publish wrote it", code="output-changed"))
            else:
                problems.append(_in_the_way(step.dest, "is already there, and publish did not make it"))
    except OSError as exc:
        raise BuildFailed([error("write", f"cannot read '{exc.filename or out_dir}': {_reason(exc)}; nothing was "
                                          "changed", file=out_dir, hint=_hint_write(out_dir))]) from None
    if problems:
        raise BuildFailed(problems)

    todo = [s for s in steps if s.old != s.new]
    final = _Record({**{n: d for n, d in record.outputs.items() if (out_dir / n).exists() or os.path.islink(out_dir / n)},
                     **{s.name: [s.new] for s in steps}})
    if not todo:
        if final.encode() != _current_bytes(record_path):
            with contextlib.suppress(OSError):  # only the record is behind: not worth failing a build for
                _write_temp_then_replace(record_path, final.encode())
        return Written(tuple(s.dest for s in steps), (), tuple(notes))
    return _transact(out_dir, steps, todo, record, final, notes)


def _in_the_way(path: Path, what: str, *, code: str = "output-exists") -> Diagnostic:
    return error(code, f"'{path}' {what} ({describe(path)}); this build would replace it", file=path,
                 hint="publish never removes what it did not make: move it away, choose another output folder "
                      "with -o, or build with --force to replace it")


def _removed(path: Path, *, changed: bool = False) -> Diagnostic:
    why = "changed after publish wrote it" if changed else "not made by publish"
    return Diagnostic("output-replaced", Severity.INFO, f"--force: replaced '{path}' ({describe(path)}, {why})",
                      file=path)


def _current_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write_temp_then_replace(path: Path, data: bytes) -> None:
    temp = _stage_file(path, data)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _stage_file(dest: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}{_TEMP_MARK}")
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _stage_folder(dest: Path, files: Mapping[str, bytes]) -> Path:
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}{_TEMP_MARK}"))
    try:
        for name, data in sorted(files.items()):
            target = staging.joinpath(*PurePosixPath(name).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(staging, 0o755)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _make_folder(folder: Path) -> list[Path]:
    """mkdir -p, returning the folders it made (removed again if the build then fails)."""
    made = []
    for parent in [folder, *folder.parents]:
        if parent.exists() or os.path.islink(parent):
            break
        made.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    return made


def _remove(path: Path) -> bool:
    """Remove a path this module made (a temporary or a replaced output). True if it is gone."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def _put_in_place(step: _Step) -> None:
    """Move `step.staged` to `step.dest`; what was there is kept at `step.previous`."""
    assert step.staged is not None
    if step.old is None:
        if not move_new(step.staged, step.dest):
            os.rename(step.staged, step.dest)
        step.how = "new"
    elif exchange(step.staged, step.dest):
        step.previous, step.how = step.staged, "exchange"
    elif step.staged.is_file() and step.dest.is_file() and not step.dest.is_symlink():
        backup = step.staged.with_name(step.staged.name + ".old")
        os.link(step.dest, backup)
        step.previous = backup
        os.replace(step.staged, step.dest)  # atomic: the old file or the new one is always there
        step.how = "link"
    else:
        backup = step.staged.with_name(step.staged.name + ".old")
        os.rename(step.dest, backup)
        step.previous = backup
        try:
            os.rename(step.staged, step.dest)
        except OSError:
            os.rename(backup, step.dest)
            step.previous = None
            raise
        step.how = "renames"


def _take_back(step: _Step) -> None:
    """Undo `_put_in_place`: the previous version back at `step.dest`, the new one at `step.staged`."""
    assert step.staged is not None
    if step.how == "exchange":
        if not exchange(step.staged, step.dest):
            raise OSError(errno.ENOTSUP, "cannot swap back", str(step.dest))
    elif step.how == "link":
        assert step.previous is not None
        os.replace(step.previous, step.dest)
    elif step.how == "renames":
        assert step.previous is not None
        os.rename(step.dest, step.staged)
        os.rename(step.previous, step.dest)
    elif step.how == "new":
        os.rename(step.dest, step.staged)
    step.how, step.previous = "", None


def _transact(out_dir: Path, steps: list[_Step], todo: list[_Step], record: _Record, final: _Record,
              notes: list[Diagnostic]) -> Written:
    made_folders: list[Path] = []
    record_path = out_dir / RECORD
    record_step = _Step(RECORD, record_path, None, "", digest_path(record_path))
    temporaries: list[Path] = []
    final_temp: Path | None = None
    current = todo[0]
    try:
        made_folders = _make_folder(out_dir)
        # A killed build's temporaries, named in its record: the ones that cannot be removed stay named.
        record.temporary = [name for name in record.temporary if not _remove(out_dir / name)]
        for step in todo:
            current = step
            data = step.data
            assert data is not None
            step.staged = _stage_file(step.dest, data) if isinstance(data, bytes) else _stage_folder(step.dest, data)
            temporaries.append(step.staged)
        # While the swaps run, the record accepts both versions and names every temporary path.
        pending = _Record({**record.outputs, **{s.name: [*([s.old] if s.old else []), s.new] for s in steps}},
                          [*record.temporary, *(n for p in temporaries for n in (p.name, p.name + ".old"))])
        current = record_step
        record_step.staged = _stage_file(record_path, b"")  # its own name first, so the record can list it
        temporaries.append(record_step.staged)
        final_temp = _stage_file(record_path, b"")
        temporaries.append(final_temp)
        pending.temporary += [n for p in temporaries[-2:] for n in (p.name, p.name + ".old")]
        final.temporary = list(record.temporary)
        _rewrite(record_step.staged, pending.encode())
        _rewrite(final_temp, final.encode())
    except BaseException as exc:  # Ctrl-C too: nothing was moved yet, so nothing of this build may stay
        for path in temporaries:
            _remove(path)
        for folder in made_folders:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        if not isinstance(exc, OSError):
            raise
        raise BuildFailed([error("write", f"cannot write '{current.dest}': {_reason(exc)}; nothing in '{out_dir}' "
                                          "was changed", file=current.dest, hint=_hint_write(out_dir))]) from None

    done: list[_Step] = []
    try:
        for step in [record_step, *todo]:
            current = step
            _put_in_place(step)
            done.append(step)
    except BaseException as exc:  # Ctrl-C half-way is put back too
        stuck: list[_Step] = []
        for step in reversed(done):  # the record last: if an output stays new, the pending record stays
            if step is record_step and stuck:
                continue
            try:
                _take_back(step)
            except OSError:
                stuck.append(step)
        for path in temporaries:
            if not any(path in (s.staged, s.previous) for s in stuck):
                _remove(path)
        if not stuck:
            for folder in made_folders:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        if not isinstance(exc, OSError):
            raise
        if not stuck:
            raise BuildFailed([error("write", f"cannot put '{current.dest}' in place: {_reason(exc)}; the outputs "
                                              f"already replaced were put back, so nothing in '{out_dir}' was changed",
                                     file=current.dest, hint=_hint_write(out_dir))]) from None
        raise BuildFailed([error("write", f"cannot put '{current.dest}' in place: {_reason(exc)}", file=current.dest,
                                 hint=_hint_write(out_dir)),
                           *(error("write-incomplete", f"'{s.dest}' holds this build's new version, and the previous "
                                                       f"one could not be put back: it is kept at '{s.previous}'"
                                                       if s.previous else f"'{s.dest}' is new, and could not be "
                                                       "taken away again", file=s.dest,
                                   hint="move the kept version back by hand if you want it, or build again")
                             for s in stuck)]) from None

    # Everything is in place: the final record, then the previous versions go.
    try:
        os.replace(final_temp, record_path)
    except OSError:
        pass  # the pending record stays: it accepts the new outputs and names what is left over
    leftovers = []
    for step in [record_step, *todo]:
        for path in (step.previous, step.staged if step.how != "exchange" else None):
            if path is not None and os.path.lexists(path) and not _remove(path):
                leftovers.append(path.name)
    if leftovers:
        final.temporary += leftovers
        with contextlib.suppress(OSError):
            _write_temp_then_replace(record_path, final.encode())
    return Written(tuple(s.dest for s in steps), tuple(s.dest for s in todo), tuple(notes))


def _rewrite(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# -- single files, outside a transaction ---------------------------------------------------------


@contextlib.contextmanager
def _reported(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise BuildFailed([error("write", f"cannot write '{path}': {_reason(exc)}", file=path,
                                 hint="check that the folder is one you may write to, with room left")]) from None


def write_file(path: Path, data: bytes) -> None:
    """Write one file atomically (a temporary file renamed into place), for caches that publish
    alone owns, such as the downloaded web images: the output folder goes through `commit`."""
    with _reported(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_temp_then_replace(path, data)
