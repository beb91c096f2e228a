"""Ingest policy documents (.txt .md .docx .pdf .html): read, split into clauses, store, index.

Each file is one transaction: a corrupt, encrypted or empty file gets a clear message and leaves
nothing behind, and the rest of the batch goes on. A changed file (content hash) replaces its
clauses; an unchanged one is skipped.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import index as library
from knowledge.models import Clause, PolicyDocument
from knowledge.structure import parse

SUFFIXES = {".txt", ".md", ".docx", ".pdf", ".html", ".htm"}
MAX_BYTES = 20 * 1024 * 1024
PARSER_VERSION = b"3"
# 劳动合同法(2012-12-28).md: the law's name and the date of this version of its text.
VERSIONED = re.compile(r"^(?P<key>.+?)[(（](?P<version>\d{4}-\d{2}-\d{2})[)）]$")


class IngestError(ValueError):
    """A file that cannot be ingested; the message says why, in Chinese, for the uploader."""


@dataclass
class Outcome:
    source: str
    status: str  # added | updated | unchanged | error
    message: str = ""
    clauses: int = 0


# -- readers ------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 is a superset of GBK and GB2312
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError("无法识别文件编码（支持 UTF-8 和 GBK/GB18030）")


def read_docx(data: bytes) -> str:
    """python-docx drops Word's automatic numbering; rebuild it from w:numPr so "一、" and "1." survive."""
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise IngestError(f"不是有效的 Word 文档（{type(exc).__name__}）") from None
    formats = _numbering_formats(document)
    counters: dict[tuple[str, int], int] = {}
    lines = []
    for paragraph in document.paragraphs:
        value = paragraph.text.strip()
        num_pr = _num_pr(paragraph)
        if num_pr is not None and num_pr.numId is not None and value:
            num_id = str(num_pr.numId.val)
            level = int(num_pr.ilvl.val) if num_pr.ilvl is not None else 0
            counters[(num_id, level)] = counters.get((num_id, level), 0) + 1
            for nid, lvl in list(counters):
                if nid == num_id and lvl > level:
                    del counters[(nid, lvl)]  # a new item restarts the deeper levels
            fmt, text = formats.get((num_id, level), ("decimal", "%1."))
            value = _number_label(fmt, text, counters[(num_id, level)], level) + value
        if value:
            lines.append(value)
    return "\n".join(lines)


def _num_pr(paragraph):
    """The paragraph's own numbering, else its style's (Word's "List Number" numbers by style)."""
    if paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None:
        return paragraph._p.pPr.numPr
    style = paragraph.style
    while style is not None:
        ppr = style.element.pPr
        if ppr is not None and ppr.numPr is not None:
            return ppr.numPr
        style = style.base_style
    return None


def _numbering_formats(document) -> dict[tuple[str, int], tuple[str, str]]:
    from docx.oxml.ns import qn

    try:
        numbering = document.part.numbering_part.element
    except (KeyError, NotImplementedError):
        return {}
    abstract = {}
    for a in numbering.findall(qn("w:abstractNum")):
        levels = {}
        for lvl in a.findall(qn("w:lvl")):
            fmt = lvl.find(qn("w:numFmt"))
            text = lvl.find(qn("w:lvlText"))
            levels[int(lvl.get(qn("w:ilvl")))] = (
                fmt.get(qn("w:val")) if fmt is not None else "decimal",
                text.get(qn("w:val")) if text is not None else "%1.",
            )
        abstract[a.get(qn("w:abstractNumId"))] = levels
    result = {}
    for num in numbering.findall(qn("w:num")):
        ref = num.find(qn("w:abstractNumId"))
        for level, value in abstract.get(ref.get(qn("w:val")) if ref is not None else None, {}).items():
            result[(num.get(qn("w:numId")), level)] = value
    return result


CN_DIGITS = "零一二三四五六七八九"


def _chinese(n: int) -> str:
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    return CN_DIGITS[n // 10] + "十" + (CN_DIGITS[n % 10] if n % 10 else "")


def _number_label(fmt: str, text: str, n: int, level: int) -> str:
    value = (
        _chinese(n)
        if fmt
        in (
            "chineseCounting",
            "chineseCountingThousand",
            "ideographTraditional",
            "chineseLegalSimplified",
            "taiwaneseCounting",
        )
        else str(n)
    )
    return text.replace(f"%{level + 1}", value)


def read_pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError("PDF 已加密，请提供未加密的文件")
        return "\n".join((page.extract_text() or "") for page in reader.pages)
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise IngestError(f"PDF 文件已损坏或无法读取（{type(exc).__name__}）") from None


def read_html(data: bytes) -> str:
    import lxml.html

    try:
        root = lxml.html.fromstring(decode(data))
    except Exception as exc:  # lxml raises several types on broken markup
        raise IngestError(f"无法解析 HTML（{type(exc).__name__}）") from None
    for bad in root.xpath("//script|//style|//nav|//header|//footer"):
        bad.drop_tree()
    for block in root.xpath("//p|//div|//br|//li|//h1|//h2|//h3|//h4|//tr|//title"):
        block.tail = "\n" + (block.tail or "")
    return root.text_content()


def read(name: str, data: bytes) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise IngestError(f"不支持的文件类型 {suffix or '（无扩展名）'}")
    if len(data) > MAX_BYTES:
        raise IngestError("文件超过 20 MB")
    if suffix == ".docx":
        return read_docx(data)
    if suffix == ".pdf":
        return read_pdf(data)
    if suffix in (".html", ".htm"):
        return read_html(data)
    return decode(data)


# -- storing ------------------------------------------------------------------------------------


def ingest_bytes(session: Session, name: str, data: bytes, meta: dict | None = None) -> Outcome:
    """One document in its own savepoint: all of it, or nothing."""
    # The parser's version is part of the hash: when the splitting improves, documents are split again.
    digest = hashlib.sha256(PARSER_VERSION + data).hexdigest()
    existing = session.scalars(select(PolicyDocument).where(PolicyDocument.source == name)).first()
    if existing is not None and existing.content_hash == digest and existing.status in ("active", "superseded"):
        return Outcome(name, "unchanged", clauses=len(existing.clauses))
    try:
        text = read(name, data)
        parsed = parse(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text))
        if not parsed.clauses or sum(len(c.text) for c in parsed.clauses) < 20:
            raise IngestError("文件没有可用的正文")
    except IngestError as exc:
        return Outcome(name, "error", str(exc))
    meta = meta or {}
    versioned = VERSIONED.match(Path(name).stem)
    with session.begin_nested():
        doc = existing or PolicyDocument(source=name)
        if existing is not None:
            existing.clauses.clear()
            session.flush()
        if versioned:  # a law: cited by its short name (《劳动合同法》), its version shown
            doc.key, doc.version = versioned.group("key"), versioned.group("version")
            doc.title = meta.get("title") or doc.key
        else:
            doc.title = meta.get("title") or parsed.title or Path(name).stem
            doc.key, doc.version = meta.get("key") or Path(name).stem, meta.get("version", "")
        doc.issuer = meta.get("issuer", parsed.issuer)
        doc.doc_number = meta.get("doc_number", parsed.doc_number)
        doc.issued = meta.get("issued", parsed.issued)
        doc.region = meta.get("region", parsed.region or ("河南省" if doc.title.startswith("河南省") else ""))
        doc.content_hash, doc.status = digest, "active"
        for seq, c in enumerate(parsed.clauses, 1):
            clause = Clause(seq=seq, path=c.path, heading=c.heading, context=c.context, text=c.text)
            library.index_terms(clause)
            doc.clauses.append(clause)
        session.add(doc)
        session.flush()
        _supersede(session, doc)
        library.bump(session)
    return Outcome(name, "updated" if existing is not None else "added", clauses=len(doc.clauses))


def _supersede(session: Session, doc: PolicyDocument) -> None:
    """Of the versions of one law, only the newest is searched; the others stay, marked superseded."""
    if not doc.version:
        return
    versions = list(
        session.scalars(
            select(PolicyDocument).where(
                PolicyDocument.key == doc.key, PolicyDocument.version != "", PolicyDocument.status != "retired"
            )
        )
    )
    newest = max(versions, key=lambda d: d.version)
    for other in versions:
        other.status = "active" if other is newest else "superseded"


def files(paths: Iterable[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            yield path


def retire(session: Session, source: str) -> bool:
    doc = session.scalars(select(PolicyDocument).where(PolicyDocument.source == source)).first()
    if doc is None:
        return False
    doc.status = "retired"  # kept for the record; no longer searched
    library.bump(session)
    return True
