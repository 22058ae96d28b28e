"""Images on the web, for authors who opt in with `remote-images: true` in book.yaml.

Without that key a build makes no network request at all (parse refuses a remote image). With it,
each image is downloaded once into a cache outside the book folder (a build never writes into the
book folder) and embedded like a local image: an EPUB may not point at images on the web, and a
book read years later should not depend on someone else's server. The cache is keyed by the
address, so a rebuild makes no request and gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from .diagnostics import Diagnostic, Severity, error
from .limits import DOWNLOAD_DEADLINE, too_many_pixels
from .model import Asset
from .write import write_file

TIMEOUT = 10.0  # seconds to connect, and for each read (the whole download: limits.DOWNLOAD_DEADLINE)
LIMIT = 20 * 1024 * 1024  # bytes; a larger image is a mistake in a book
HREF_FOLDER = "web-images"

# The first bytes of each image type an edition can carry.
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", ".png", "image/png"), (b"\xff\xd8\xff", ".jpg", "image/jpeg"),
               (b"GIF87a", ".gif", "image/gif"), (b"GIF89a", ".gif", "image/gif"))


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "publish" / "remote-images"


def sniff(data: bytes) -> tuple[str, str] | None:
    """The file suffix and media type of an image, from its content rather than its address."""
    for signature, suffix, media_type in _SIGNATURES:
        if data.startswith(signature):
            return suffix, media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp", "image/webp"
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        return ".svg", "image/svg+xml"
    return None


class RemoteImages:
    """Downloads the web images a book uses; one instance per build."""

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache or default_cache()
        # Only HTTP(S): no file:, ftp: or data: handlers, whatever a redirect says.
        self.opener = urllib.request.build_opener()
        self.opener.handlers = [h for h in self.opener.handlers if not isinstance(
            h, (urllib.request.FileHandler, urllib.request.FTPHandler, urllib.request.DataHandler))]

    def fetch(self, url: str, *, shown: Path, line: int | None, problems: list[Diagnostic]) -> Asset | None:
        key = hashlib.sha256(url.encode()).hexdigest()[:32]
        cached = sorted(self.cache.glob(f"{key}.*")) if self.cache.is_dir() else []
        if cached:
            data = cached[0].read_bytes()
        else:
            try:
                data = self._download(url)
            except (OSError, ValueError, urllib.error.URLError) as exc:
                reason = getattr(exc, "reason", None) or exc
                problems.append(error("image-download", f"could not download the image '{url}': {reason}",
                                      file=shown, line=line, hint="check the address, or save the image into the "
                                                                  "book folder and link that"))
                return None
        kind = sniff(data)
        if kind is None:
            problems.append(error("image-type", f"'{url}' is not a PNG, JPEG, GIF, SVG or WebP image", file=shown,
                                  line=line, hint="link the image itself, not the web page that shows it"))
            return None
        suffix, media_type = kind
        if suffix != ".svg" and (problem := too_many_pixels(data, url, shown, line)):
            problems.append(problem)
            if problem.severity is Severity.ERROR:
                return None
        path = self.cache / f"{key}{suffix}"
        if not cached:
            write_file(path, data)
        return Asset(path, f"{HREF_FOLDER}/{key}{suffix}", media_type)

    def _download(self, url: str) -> bytes:
        # A deadline for the whole download, not only for each read: a server that sends a byte
        # every few seconds never trips a per-read timeout.
        deadline = time.monotonic() + DOWNLOAD_DEADLINE
        request = urllib.request.Request(url, headers={"User-Agent": "publish (book builder)"})
        chunks: list[bytes] = []
        size = 0
        with self.opener.open(request, timeout=min(TIMEOUT, DOWNLOAD_DEADLINE)) as response:
            while chunk := response.read1(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > LIMIT:
                    raise ValueError(f"larger than {LIMIT // (1024 * 1024)} MB")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the download took longer than {DOWNLOAD_DEADLINE:g} s (the limit)")
        return b"".join(chunks)
