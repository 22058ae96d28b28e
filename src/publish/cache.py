"""A content-addressed cache of parsed chapters, parsed books and finished editions.

Authors rebuild dozens of times a day, and most rebuilds change one chapter or nothing at all. So
every costly result is kept under a key that is a digest of everything it depends on: a chapter's
HTML under its text and the pipeline's version; the parsed `Book` under every chapter, book.yaml
and the build's date; each edition under the book, the images it carries, the templates,
stylesheets and fonts it is made from, and its options. A key that matches can only name the
result that a clean build would make, so a cached build is byte-for-byte a clean build.

The cache lives in the user's cache folder (`$PUBLISH_CACHE_DIR`, else `$XDG_CACHE_HOME/publish`,
else `~/.cache/publish`), never in the book folder. Its layout:

    blobs/ab/abcdef...     file contents, named by their own SHA-256 (fonts shared by the EPUB
                           and the web edition are kept once)
    entries/12/123456...   a pickled record under a key: the names of its blobs and small data
                           (diagnostics, the print edition's page map)

Writes are atomic (a temporary file renamed into place), so two builds at once, or one that is
interrupted, leave the cache whole. A record whose blob has gone missing or changed is a miss.
Least recently used files are removed once the cache grows past `MAX_BYTES`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__

MAX_BYTES = int(os.environ.get("PUBLISH_CACHE_MAX_MB", "1024")) * 1024 * 1024

# The libraries whose behaviour shapes what an edition contains. The system's Pango and HarfBuzz
# also shape the PDF's layout; they change only with the operating system, and `--clean` is the
# way around a cache made before such an upgrade.
LIBRARIES = ("markdown", "nh3", "lxml", "jinja2", "markupsafe", "pyyaml", "langcodes", "ebooklib", "weasyprint",
             "pydyf", "tinycss2", "cssselect2", "tinyhtml5", "fonttools", "uharfbuzz", "pyphen", "pypdf", "pypdfium2", "pillow",
             "latex2mathml", "ziamath", "ziafont", "pypandoc-binary",
             "pygments", "pymdown-extensions", "python-barcode", "python-stdnum")


def default_root() -> Path:
    if explicit := os.environ.get("PUBLISH_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "publish"


def _feed(hasher: Any, part: object) -> None:
    """Each part goes in tagged with its kind and length, so ("ab", "c") and ("a", "bc") differ."""
    if part is None:
        hasher.update(b"N")
    elif isinstance(part, bytes):
        hasher.update(b"B%d:" % len(part) + part)
    elif isinstance(part, str):
        _feed(hasher, part.encode())
        hasher.update(b"s")
    elif isinstance(part, bool | int):
        hasher.update(b"I%d;" % part)
    elif isinstance(part, tuple | list):
        hasher.update(b"L%d:" % len(part))
        for item in part:
            _feed(hasher, item)
    elif isinstance(part, Mapping):
        _feed(hasher, sorted(part.items()))
    else:
        raise TypeError(f"cannot key a cache entry on {type(part).__name__}")


def digest(*parts: object) -> str:
    """A stable SHA-256 over `parts` (bytes, str, int, None and lists, tuples or dicts of them)."""
    hasher = hashlib.sha256()
    _feed(hasher, parts)
    return hasher.hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def pipeline_version() -> str:
    """Everything about publish itself that an output depends on: its version number, its own
    source code (so a changed line in a development checkout is a new version, too), Python's
    version and the versions of the libraries that render."""
    from importlib import metadata

    package = Path(__file__).resolve().parent
    # Subpackages too: the Markdown constructs live in publish/markdown/.
    sources = [(p.relative_to(package).as_posix(), p.read_bytes()) for p in sorted(package.rglob("*.py"))]
    versions = []
    for name in LIBRARIES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, None))
    return digest("publish", __version__, sys.version, sources, versions)


@dataclass(frozen=True, slots=True)
class Stored:
    """A record read back: its files (by name, as blob digests) and its small data."""

    files: dict[str, str]
    meta: Any

    def file_bytes(self, cache: Cache) -> dict[str, bytes] | None:
        out = {}
        for name, blob in self.files.items():
            data = cache.blob(blob)
            if data is None:
                return None
            out[name] = data
        return out


class Cache:
    """The cache folder. With `read=False` (`publish build --clean`) nothing is read from it,
    while what the build makes is still kept, so the next build can use it."""

    def __init__(self, root: Path, *, read: bool = True) -> None:
        self.root = root
        self.read = read
        self.stored_bytes = 0  # written by this process: prune only when something was added

    # -- blobs -------------------------------------------------------------------------------

    def _blob_path(self, name: str) -> Path:
        return self.root / "blobs" / name[:2] / name

    def blob(self, name: str) -> bytes | None:
        path = self._blob_path(name)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != name:  # a damaged file is a miss, never an output
            return None
        _touch(path)
        return data

    def has_blob(self, name: str) -> bool:
        return self._blob_path(name).is_file()

    def put_blob(self, data: bytes) -> str:
        name = hashlib.sha256(data).hexdigest()
        path = self._blob_path(name)
        if path.is_file():
            _touch(path)
        else:
            self._write(path, data)
        return name

    # -- records -----------------------------------------------------------------------------

    def _entry_path(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / key

    def get(self, key: str) -> Stored | None:
        """The record under `key`, if there is one and every blob it names is still there."""
        if not self.read:
            return None
        path = self._entry_path(key)
        try:
            files, meta = pickle.loads(path.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError):
            return None
        if not all(self.has_blob(blob) for blob in files.values()):
            return None
        _touch(path)
        return Stored(files, meta)

    def put(self, key: str, *, files: Mapping[str, bytes] | None = None, meta: Any = None) -> Stored:
        names = {name: self.put_blob(data) for name, data in (files or {}).items()}
        self._write(self._entry_path(key), pickle.dumps((names, meta), protocol=pickle.HIGHEST_PROTOCOL))
        return Stored(names, meta)

    def get_value(self, key: str) -> Any | None:
        stored = self.get(key)
        return None if stored is None else stored.meta

    def put_value(self, key: str, value: Any) -> None:
        self.put(key, meta=value)

    # -- housekeeping ------------------------------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, path)
            self.stored_bytes += len(data)
        except OSError:
            # A cache that cannot be written (a full disk, a read-only home) only makes the next
            # build slower; it must never fail this one.
            if "temp" in locals():
                Path(temp).unlink(missing_ok=True)

    def files(self) -> Iterator[os.DirEntry[str]]:
        """The cache's own files: only names this module gives (a SHA-256 under a folder named by
        its first two digits), so `prune` never removes anything else, wherever the cache points."""
        for top in ("blobs", "entries"):
            try:
                shards = list(os.scandir(self.root / top))
            except OSError:
                continue
            for shard in shards:
                if shard.is_dir(follow_symlinks=False) and _is_digest(shard.name, length=2):
                    yield from (f for f in os.scandir(shard.path) if f.is_file(follow_symlinks=False)
                                and _is_digest(f.name) and f.name.startswith(shard.name))

    def prune(self, max_bytes: int = MAX_BYTES) -> int:
        """Remove the least recently used files until the cache holds at most `max_bytes`.
        Returns the number of bytes removed. A record left without its blobs is simply a miss."""
        found = []
        for entry in self.files():
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.append((stat.st_mtime, stat.st_size, entry.path))
        total = sum(size for _, size, _ in found)
        removed = 0
        for _, size, path in sorted(found):
            if total - removed <= max_bytes:
                break
            try:
                os.unlink(path)
                removed += size
            except OSError:
                pass
        return removed


def _is_digest(name: str, *, length: int = 64) -> bool:
    return len(name) == length and all(c in "0123456789abcdef" for c in name)


def _touch(path: Path) -> None:
    """Mark as recently used (mtime, which `prune` reads: atime is often not kept)."""
    try:
        os.utime(path)
    except OSError:
        pass


class ChapterStore(MutableMapping[str, str]):
    """`parse.parse_book(cache=...)`'s mapping from a chapter's text digest to its HTML, kept in
    the cache under that digest and the pipeline's version (which covers the Markdown set-up:
    it is code in parse.py)."""

    def __init__(self, cache: Cache, pipeline: str) -> None:
        self.cache = cache
        self.pipeline = pipeline
        self.memory: dict[str, str] = {}
        self.converted = 0  # chapters that were not in the cache: parse_book converted them

    def _key(self, text_digest: str) -> str:
        return digest("chapter-html", self.pipeline, text_digest)

    def __contains__(self, text_digest: object) -> bool:
        if not isinstance(text_digest, str):
            return False
        if text_digest not in self.memory:
            html = self.cache.get_value(self._key(text_digest))
            if not isinstance(html, str):
                return False
            self.memory[text_digest] = html
        return True

    def __getitem__(self, text_digest: str) -> str:
        if text_digest not in self:
            raise KeyError(text_digest)
        return self.memory[text_digest]

    def __setitem__(self, text_digest: str, html: str) -> None:
        self.memory[text_digest] = html
        self.converted += 1
        self.cache.put_value(self._key(text_digest), html)

    def __delitem__(self, text_digest: str) -> None:
        del self.memory[text_digest]

    def __iter__(self) -> Iterator[str]:
        return iter(self.memory)

    def __len__(self) -> int:
        return len(self.memory)

