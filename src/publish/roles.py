"""The roles a book's files play besides "a chapter": front matter, back matter, and parts.

An author gives a file its role in book.yaml (`- file: 00-dedication.md` with `role: dedication`)
or on its heading (`# Dedication {.dedication}`, or Pandoc's `{epub:type=dedication}`); parts are
entries of `chapters:` that hold chapters of their own (docs/authoring.md). Each role has its
EPUB structural semantics (epub:type), its DPUB-ARIA role, and its place in the book.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Role:
    name: str  # as book.yaml writes it
    label: str  # its name for a reader, when the author gave the file no heading
    epub_type: str  # EPUB 3 Structural Semantics
    aria: str  # DPUB-ARIA role; "" where DPUB-ARIA has none
    front: bool = False  # may stand in the front matter (before the text, numbered in roman)
    back: bool = False  # may stand in the back matter (after the text)
    display: bool = False  # set alone, centred on a recto, with no printed heading, before the contents


CHAPTER = Role("chapter", "Chapter", "chapter", "doc-chapter")
ROLES = {role.name: role for role in (
    CHAPTER,
    Role("dedication", "Dedication", "dedication", "doc-dedication", front=True, display=True),
    Role("epigraph", "Epigraph", "epigraph", "doc-epigraph", front=True, display=True),
    Role("foreword", "Foreword", "foreword", "doc-foreword", front=True),
    Role("preface", "Preface", "preface", "doc-preface", front=True),
    Role("acknowledgements", "Acknowledgements", "acknowledgments", "doc-acknowledgments", front=True, back=True),
    # An introduction, a prologue, an epilogue and an afterword are part of the text (Chicago 1.46-1.47).
    Role("introduction", "Introduction", "introduction", "doc-introduction"),
    Role("prologue", "Prologue", "prologue", "doc-prologue"),
    Role("epilogue", "Epilogue", "epilogue", "doc-epilogue"),
    Role("afterword", "Afterword", "afterword", "doc-afterword"),
    Role("appendix", "Appendix", "appendix", "doc-appendix", back=True),
    Role("glossary", "Glossary", "glossary", "doc-glossary", back=True),
    Role("bibliography", "Bibliography", "bibliography", "doc-bibliography", back=True),
    # Neither has a term in EPUB's vocabulary or in DPUB-ARIA: a section named by its heading.
    Role("about-the-author", "About the Author", "", "", back=True),
    Role("also-by", "Also By", "", "", front=True, back=True),
)}
# Other spellings an author may write (Pandoc's epub:type values among them).
ALIASES = {"acknowledgments": "acknowledgements", "about": "about-the-author", "about-author": "about-the-author",
           "also-by-the-author": "also-by",
           "references": "bibliography", "appendices": "appendix"}


def role_named(name: str) -> Role | None:
    """The role an author's name for it means (any case, spaces or dashes), or None."""
    key = "-".join(name.strip().lower().replace("_", " ").split())
    key = ALIASES.get(key, key)
    return ROLES.get(key)


def role_of_classes(classes: list[str]) -> Role | None:
    """The role a heading's classes give (`{.dedication}`, or `{epub:type=...}` read as classes)."""
    for name in classes:
        role = role_named(name)
        if role is not None and role is not CHAPTER:
            return role
    return None
