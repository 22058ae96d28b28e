"""Small book folders for tests, and a way to tell whether a folder changed."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from publish.epub import Cover

# A 1x1 PNG: enough for an image the book links, or a cover that needs no WeasyPrint.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
TINY_COVER = Cover(PNG, "image/png", "images/cover.png", "Cover")


def write_book(root: Path, *, config: str = "title: A Test Book\nlang: en\n",
               chapters: dict[str, str | bytes] | None = None, files: dict[str, bytes] | None = None) -> Path:
    """Write a book folder: book.yaml (verbatim), chapter files and any other files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "book.yaml").write_text(config, encoding="utf-8")
    if chapters is None:
        chapters = {"01-one.md": "# One\n\nThe first chapter.\n", "02-two.md": "# Two\n\nThe second chapter.\n"}
    for name, text in {**chapters, **(files or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return root


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and folder under `folder` with its content hash, modification time and mode."""
    if not folder.exists():
        return {}
    result = {}
    for path in sorted([folder, *folder.rglob("*")]):
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        result[str(path.relative_to(folder))] = (digest, stat.st_mtime_ns, stat.st_mode)
    return result
