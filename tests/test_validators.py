"""The validator harness can fail: hand-made EPUBs and PDFs with known faults.

If these pass, a clean report from tests/validators.py on a real book means
something.  The EPUBs are written byte by byte with zipfile, so they do not
depend on the pipeline under test.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from validators import (
    PdfFont,
    ValidatorUnavailable,
    parse_pdffonts,
    pdf_fonts,
    pdf_info,
    run_ace,
    run_epubcheck,
)

# --- hand-made EPUB 3 -------------------------------------------------------

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="EPUB/package.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""

A11Y_METADATA = """
    <meta property="schema:accessMode">textual</meta>
    <meta property="schema:accessModeSufficient">textual</meta>
    <meta property="schema:accessibilityFeature">structuralNavigation</meta>
    <meta property="schema:accessibilityFeature">tableOfContents</meta>
    <meta property="schema:accessibilityHazard">none</meta>
    <meta property="schema:accessibilitySummary">A short text with headings and a table of contents.</meta>
    <link rel="dcterms:conformsTo" href="http://www.idpf.org/epub/a11y/accessibility-20170105.html#wcag-aa"/>
    <meta property="a11y:certifiedBy">publish test suite</meta>"""


def _opf(*, nav: bool = True, image: bool = False) -> str:
    nav_item = '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>' if nav else ""
    image_item = '<item id="pic" href="pic.png" media-type="image/png"/>' if image else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid" xml:lang="en">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="uid">urn:uuid:6c3f0a8e-2f4b-4b8e-9d2e-8f1f4a3b2c1d</dc:identifier>
    <dc:title>Validator Fixture</dc:title>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>{A11Y_METADATA}
  </metadata>
  <manifest>
    {nav_item}
    <item id="ch1" href="chapter.xhtml" media-type="application/xhtml+xml"/>
    {image_item}
  </manifest>
  <spine>
    <itemref idref="ch1"/>
  </spine>
</package>
"""


NAV = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en" xml:lang="en">
<head><title>Contents</title></head>
<body>
  <nav epub:type="toc" role="doc-toc" id="toc">
    <h1>Contents</h1>
    <ol><li><a href="chapter.xhtml">A chapter</a></li></ol>
  </nav>
</body>
</html>
"""


def _chapter(*, img: str = "", lang: bool = True) -> str:
    lang_attrs = ' lang="en" xml:lang="en"' if lang else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml"{lang_attrs}>
<head><title>A chapter</title></head>
<body>
  <main>
    <h1>A chapter</h1>
    <p>Some words in a paragraph.</p>
    {img}
  </main>
</body>
</html>
"""


def _png() -> bytes:
    """A valid 1x1 grey PNG, made without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")


def write_epub(path: Path, files: dict[str, str | bytes], *, mimetype: bytes = b"application/epub+zip") -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def valid_epub(path: Path) -> Path:
    return write_epub(
        path,
        {
            "META-INF/container.xml": CONTAINER,
            "EPUB/package.opf": _opf(),
            "EPUB/nav.xhtml": NAV,
            "EPUB/chapter.xhtml": _chapter(),
        },
    )


def epub_with_image(path: Path, *, alt: str | None) -> Path:
    img = '<img src="pic.png"/>' if alt is None else f'<img src="pic.png" alt="{alt}"/>'
    return write_epub(
        path,
        {
            "META-INF/container.xml": CONTAINER,
            "EPUB/package.opf": _opf(image=True),
            "EPUB/nav.xhtml": NAV,
            "EPUB/chapter.xhtml": _chapter(img=img),
            "EPUB/pic.png": _png(),
        },
    )


# --- EPUBCheck ----------------------------------------------------------------


@pytest.mark.e2e
def test_epubcheck_passes_a_minimal_valid_epub(tmp_path: Path) -> None:
    report = run_epubcheck(valid_epub(tmp_path / "valid.epub"))
    assert report.messages == (), report.summary()
    assert (report.fatal, report.error, report.warning, report.usage) == (0, 0, 0, 0)
    assert report.ok
    assert report.version.startswith("5.")


@pytest.mark.e2e
def test_epubcheck_reports_a_wrong_mimetype_and_a_missing_nav(tmp_path: Path) -> None:
    epub = write_epub(
        tmp_path / "broken.epub",
        {
            "META-INF/container.xml": CONTAINER,
            "EPUB/package.opf": _opf(nav=False),
            "EPUB/chapter.xhtml": _chapter(),
        },
        mimetype=b"application/zip",
    )
    report = run_epubcheck(epub)
    assert not report.ok
    assert report.error + report.fatal >= 2, report.summary()
    ids = {m.id for m in report.messages}
    assert "PKG-007" in ids, report.summary()  # mimetype file has the wrong content
    assert "RSC-005" in ids, report.summary()  # package document without a nav item
    assert all(m.severity in {"FATAL", "ERROR", "WARNING", "USAGE", "INFO"} for m in report.messages)
    assert any(loc.startswith("EPUB/package.opf") for m in report.messages for loc in m.locations)


@pytest.mark.e2e
def test_epubcheck_reports_a_content_document_that_is_not_xml(tmp_path: Path) -> None:
    epub = write_epub(
        tmp_path / "not-xml.epub",
        {
            "META-INF/container.xml": CONTAINER,
            "EPUB/package.opf": _opf(),
            "EPUB/nav.xhtml": NAV,
            "EPUB/chapter.xhtml": _chapter().replace("</main>", "</mian>"),
        },
    )
    report = run_epubcheck(epub)
    assert report.fatal + report.error >= 1, report.summary()
    assert any("chapter.xhtml" in loc for m in report.messages for loc in m.locations), report.summary()


def test_epubcheck_rejects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run_epubcheck(tmp_path / "nothing.epub")


# --- DAISY Ace ----------------------------------------------------------------


@pytest.mark.e2e
def test_ace_passes_an_accessible_epub(tmp_path: Path) -> None:
    report = run_ace(epub_with_image(tmp_path / "alt.epub", alt="A grey dot"))
    assert report.violations == (), report.summary()
    assert report.outcome == "pass"


@pytest.mark.e2e
def test_ace_reports_an_image_without_alt_and_a_page_without_lang(tmp_path: Path) -> None:
    epub = write_epub(
        tmp_path / "no-alt.epub",
        {
            "META-INF/container.xml": CONTAINER,
            "EPUB/package.opf": _opf(image=True),
            "EPUB/nav.xhtml": NAV,
            "EPUB/chapter.xhtml": _chapter(img='<img src="pic.png"/>', lang=False),
            "EPUB/pic.png": _png(),
        },
    )
    report = run_ace(epub)
    assert report.outcome == "fail"
    assert {"image-alt", "html-has-lang"} <= report.rules, report.summary()
    alt = next(v for v in report.violations if v.rule == "image-alt")
    assert alt.impact in {"critical", "serious"}
    assert "chapter.xhtml" in alt.location
    assert alt.title


# --- poppler --------------------------------------------------------------------

# A one-page PDF using the standard (never embedded) Helvetica, offsets computed below.
_PDF_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R"
    b" /Resources << /Font << /F1 5 0 R >> >> >>",
    None,  # content stream, filled in below
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    b"<< /Title (Harness fixture) /Producer (hand) >>",
]


def _tiny_pdf(path: Path) -> Path:
    stream = b"BT /F1 24 Tf 20 60 Td (Hello) Tj ET"
    objects = list(_PDF_OBJECTS)
    objects[3] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_pdf_info_and_fonts_of_a_hand_made_pdf(tmp_path: Path) -> None:
    pdf = _tiny_pdf(tmp_path / "tiny.pdf")
    info = pdf_info(pdf)
    assert info["Title"] == "Harness fixture"
    assert info["Pages"] == "1"
    assert info["PDF version"] == "1.4"
    assert info["Page size"].startswith("300 x 144 pts")
    assert pdf_fonts(pdf) == [
        PdfFont(name="Helvetica", type="Type 1", encoding="WinAnsi", embedded=False, subset=False, unicode=False)
    ]


def test_pdf_fonts_sees_embedded_subset_fonts(tmp_path: Path) -> None:
    weasyprint = pytest.importorskip("weasyprint")  # a runtime dependency: always there
    font = Path(__file__).resolve().parent.parent / "styles" / "fonts" / "GentiumBookPlus-Regular.ttf"
    html = f"""<style>@font-face {{ font-family: G; src: url("{font.as_uri()}"); }}
    body {{ font-family: G }}</style><p>Harness</p>"""
    pdf = tmp_path / "embedded.pdf"
    weasyprint.HTML(string=html).write_pdf(pdf)
    fonts = pdf_fonts(pdf)
    assert fonts, "no fonts listed"
    assert len(fonts) == 1, fonts  # WeasyPrint names it after the family: "XXXXXX+G-…"
    (gentium,) = fonts
    assert gentium.embedded and gentium.subset, gentium
    tag, _, family = gentium.name.partition("+")
    assert len(tag) == 6 and tag.isupper() and family.startswith("G"), gentium


def test_parse_pdffonts_reads_from_the_right() -> None:
    text = (
        "name                                 type              encoding         emb sub uni object ID\n"
        "------------------------------------ ----------------- ---------------- --- --- --- ---------\n"
        "ABCDEF+SomeVeryLongFontFamilyName-BoldItalicCondensed CID TrueType (OT) Identity-H yes yes yes     12  0\n"
        "[none]                               Type 3            Custom           yes no  no      40  0\n"
    )
    assert parse_pdffonts(text) == [
        PdfFont("ABCDEF+SomeVeryLongFontFamilyName-BoldItalicCondensed", "CID TrueType (OT)", "Identity-H", True, True, True),
        PdfFont("[none]", "Type 3", "Custom", True, False, False),
    ]


def test_a_missing_tool_says_to_run_make_test(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    pdf = _tiny_pdf(tmp_path / "tiny.pdf")
    with pytest.raises(ValidatorUnavailable, match="make test"):
        pdf_info(pdf)
    with pytest.raises(ValidatorUnavailable, match="make test"):
        run_epubcheck(valid_epub(tmp_path / "valid.epub"))
