"""The one URL fetcher WeasyPrint gets, for the print edition and the cover alike.

It serves files inside the folders it is given (after `resolve()`, so neither `..` nor a symbolic
link leads out), `data:` URLs where allowed, and vetted files kept elsewhere; it never opens the
network. Anything else is refused with `FetchRefused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse


class FetchRefused(ValueError):
    """WeasyPrint asked for something a build may not read."""


class SandboxFetcher(URLFetcher):
    def __init__(self, *roots: Path, served: Mapping[Path, Path] | None = None, allow_data: bool = True,
                 fail_on_errors: bool = False, description: str = "the book folder",
                 aliases: Mapping[Path, Path] | None = None) -> None:
        protocols = ("file", "data") if allow_data else ("file",)
        super().__init__(allowed_protocols=protocols, allow_redirects=False, fail_on_errors=fail_on_errors)
        self.roots = tuple(root.resolve() for root in roots)
        self.served = dict(served or {})  # URL path -> the vetted file to answer with
        self.aliases = dict(aliases or {})  # URL path -> the folder it stands for (see pdf.BOOK_URL)
        self.allow_data = allow_data
        self.description = description

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme.lower() == "data" and self.allow_data:
            return super().fetch(url, headers)
        if parts.scheme.lower() == "file" and parts.netloc in {"", "localhost"}:
            path = Path(unquote(parts.path))
            alias = next((a for a in self.aliases if path.is_relative_to(a)), None)
            if alias is not None:
                path = self.aliases[alias] / path.relative_to(alias)
                url = path.as_uri()
            if path in self.served:
                return URLFetcherResponse(url, self.served[path].read_bytes())
            if any(path.resolve().is_relative_to(root) for root in self.roots):
                return super().fetch(url, headers)
        raise FetchRefused(f"refused to read {url}: a build reads only files inside {self.description}")
