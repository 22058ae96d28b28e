"""Write stage: outputs appear whole or not at all.

Each file is written beside its destination under a temporary name and renamed into place, so a
failed or interrupted build leaves the previous output untouched. A failure to write (a full disk,
a read-only folder, a file where a folder should be) is a `BuildFailed`, not a crash.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .diagnostics import BuildFailed, error


@contextlib.contextmanager
def _reported(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise BuildFailed([error("write", f"cannot write '{path}': {reason}", file=path,
                                 hint="check that the output folder is a folder you may write to, with room "
                                      "left; the previous output, if any, was left as it was")]) from None


def write_file(path: Path, data: bytes) -> None:
    with _reported(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def write_folder(path: Path, files: dict[str, bytes]) -> None:
    """Replace the folder `path` with exactly `files`, swapping the whole folder in at once."""
    with _reported(path):
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(20, "a file is in the way of the folder", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
        try:
            for name, data in sorted(files.items()):
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            os.chmod(staging, 0o755)
            if path.exists():
                retired = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old."))
                os.replace(path, retired / "x")
                os.replace(staging, path)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.replace(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
