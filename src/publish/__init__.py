"""publish: a Markdown book folder in, an EPUB, a print-ready PDF and a web edition out."""

__version__ = "0.1.0"
