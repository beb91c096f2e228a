"""From a policy document's text to its metadata and its clauses, in the hierarchy Chinese policy
documents use: 一、 / （一） / 1. / （1） / 第X条, including run-in headings ("1、畅通诉求反映渠道。…").

Laws and regulations in the national database's Markdown form (a `# title` line, the enactment
lines, `<!-- INFO END -->`, `## 第X章` and `### 第X节` headings, articles starting `第X条`) are read
by `parse_law`: the article is the unit, whole with its items (（一）…), and its chapter is the parent
heading, because a law is cited and asked about by article ("劳动合同法第十九条").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CN_NUM = "一二三四五六七八九十百零"
LEVELS = [  # (level, pattern, how the number is written in a path)
    (0, re.compile(rf"^第([{CN_NUM}]+)条\s*"), "第{}条"),
    (1, re.compile(rf"^([{CN_NUM}]+)[、.．]\s*"), "{}、"),
    (2, re.compile(rf"^[(（]([{CN_NUM}]+)[)）]\s*"), "({})"),
    (3, re.compile(r"^(\d{1,2})[.．、](?!\d)\s*"), "{}."),
    (4, re.compile(r"^[(（](\d{1,2})[)）]\s*"), "({})"),
]
DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,10}[〔\[【(（]\d{4}[〕\]】)）]\s*\d{1,4}\s*号")
DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
TITLE_WORDS = ("意见", "措施", "机制", "方案", "通知", "办法", "规定", "条例", "决定", "细则", "制度", "若干", "实施")
ISSUER_END = ("局", "政府", "办公室", "办公厅", "管委会", "委员会", "委", "厅", "部", "中心", "党委")
REGION = re.compile(r"([\u4e00-\u9fa5]{2,4}?(?:自治州|州|市|县|高新区|开发区|区))")
ENDS_SENTENCE = ("。", "；", ";", "，", ",", ":", "：")
MAX_CHUNK = 320  # characters: long clauses are split so that a hit points at the sentence that answers


@dataclass
class ClauseText:
    path: str
    heading: str
    context: str
    text: str


@dataclass
class Parsed:
    title: str
    issuer: str = ""
    doc_number: str = ""
    issued: str = ""
    region: str = ""
    clauses: list[ClauseText] = field(default_factory=list)


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ").replace("\xa0", " ")
    return [line.strip() for line in text.split("\n") if line.strip()]


def _level(line: str):
    for level, pattern, fmt in LEVELS:
        m = pattern.match(line)
        if m:
            return level, fmt.format(m.group(1)), line[m.end() :]
    return None


def _run_in_heading(rest: str) -> tuple[str, str]:
    """ "畅通诉求反映渠道。经营主体…" → ("畅通诉求反映渠道", whole line). Short lines are all heading."""
    if len(rest) <= 40 and not any(rest.rstrip("。").count(p) for p in "。；"):
        return rest.rstrip("。"), rest
    m = re.match(r"^(.{2,40}?)[。：:]", rest)
    return (m.group(1) if m else ""), rest


def metadata(lines: list[str]) -> tuple[str, str, str, str, str]:
    head = lines[:15]
    body_start = next((i for i, line in enumerate(lines) if _level(line) and _level(line)[0] in (0, 1)), len(lines))
    top = "\n".join(lines[: max(body_start, 3)][:15])
    # The document's own 文号 stands on a line of its own near the top; one inside a sentence is a
    # reference to another document.
    number = next(
        (DOC_NUMBER.search(line) for line in head[: max(body_start, 3)] if len(line) <= 30 and DOC_NUMBER.search(line)),
        None,
    )
    date = DATE.search(top)
    issuer = next(
        (line for line in head[:body_start] if len(line) <= 24 and line.endswith(ISSUER_END) and not DATE.search(line)),
        "",
    )
    title = ""
    for line in lines[:body_start]:
        clean = re.sub(r"^(附件[:：]\s*|【[^】]{1,8}】\s*)", "", line)
        if (
            6 <= len(clean) <= 80
            and not clean.endswith(ENDS_SENTENCE)
            and not DATE.fullmatch(clean)
            and clean != issuer
            and any(w in clean for w in TITLE_WORDS)
        ):
            title = clean
    title = title or re.sub(r"^【[^】]{1,8}】\s*", "", lines[0])[:80] if lines else ""
    region = REGION.search(title + " " + issuer.removeprefix("中共"))
    return (
        title,
        issuer,
        number.group(0).replace(" ", "") if number else "",
        f"{date.group(1)}年{int(date.group(2))}月{int(date.group(3))}日" if date else "",
        region.group(1) if region else "",
    )


LAW_INFO_END = "<!-- INFO END -->"
ARTICLE = re.compile(rf"^(第[{CN_NUM}]+条)\s*")
LAW_HEADING = re.compile(rf"^(#{{2,4}})\s*(第[{CN_NUM}]+[编章节].*)$")


def is_law(text: str) -> bool:
    return LAW_INFO_END in text[:5000] or (
        text.lstrip().startswith("# ") and bool(re.search(r"^第[一二三]条", text, re.M))
    )


def parse_law(text: str) -> Parsed:
    """A law in Markdown: title from the `# ` line, enactment lines before `<!-- INFO END -->`, then
    chapters, sections and articles. Each article is one clause with its chapter path as context."""
    head, _, body = text.partition(LAW_INFO_END) if LAW_INFO_END in text else ("", "", text)
    lines = _lines(head or text)
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), "")
    dates = [DATE.search(line) for line in lines]
    issued = next((f"{d.group(1)}年{int(d.group(2))}月{int(d.group(3))}日" for d in reversed(dates) if d), "")
    parsed = Parsed(title=title, issued=issued, issuer=_enacted_by(lines))
    headings: dict[int, str] = {}  # markdown level -> heading text (第一章 总则)
    current: ClauseText | None = None
    for line in _lines(body):
        if line.startswith("# "):
            parsed.title = parsed.title or line[2:].strip()
            continue
        heading = LAW_HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = " ".join(heading.group(2).split())
            current = None
            continue
        article = ARTICLE.match(line)
        if article:
            context = " › ".join(headings[k] for k in sorted(headings))
            current = ClauseText(path=article.group(1), heading="", context=context, text=line)
            parsed.clauses.append(current)
        elif current is not None:
            current.text += "\n" + line
    return parsed


def _enacted_by(lines: list[str]) -> str:
    """The body that made the law, from its enactment lines (the first one names it)."""
    for line in lines:
        if "国务院" in line:
            return "国务院"
        m = re.search(r"([\u4e00-\u9fa5]{2,4}省)?[^省]*人民代表大会(常务委员会)?", line)
        if m and "人民代表大会" in line:
            return (m.group(1) or "全国") + ("人大常委会" if m.group(2) else "人民代表大会")
    return ""


def parse(text: str) -> Parsed:
    if is_law(text):
        return parse_law(text)
    lines = _lines(text)
    if not lines:
        return Parsed(title="")
    title, issuer, number, issued, region = metadata(lines)
    parsed = Parsed(title=title, issuer=issuer, doc_number=number, issued=issued, region=region)
    stack: list[tuple[int, str, str]] = []  # (level, path part, heading)
    current: ClauseText | None = None
    preamble: list[str] = []
    for line in lines:
        found = _level(line)
        if found is None:
            if current is None:
                if line not in (title, issuer) and not DATE.fullmatch(line) and not DOC_NUMBER.fullmatch(line):
                    preamble.append(line)
            else:
                current.text += "\n" + line
            continue
        level, part, rest = found
        while stack and stack[-1][0] >= level:
            stack.pop()
        heading, body = _run_in_heading(rest)
        context = " › ".join(h for _, _, h in stack if h)
        stack.append((level, part, heading))
        current = ClauseText(
            path=_path([p for _, p, _ in stack]), heading=heading, context=context, text=line if body else heading
        )
        parsed.clauses.append(current)
    if preamble:
        parsed.clauses.insert(0, ClauseText(path="", heading="", context="", text="\n".join(preamble)))
    parsed.clauses = [c for clause in parsed.clauses for c in _chunks(clause)]
    return parsed


def _path(parts: list[str]) -> str:
    """["三、", "(一)", "2."] → "三、(一) 2." """
    path = ""
    for part in parts:
        path += ("" if not path or path.endswith("、") else " ") + part
    return path


MARKER = re.compile(r"[一二三四五六七八九十]是")


def _chunks(clause: ClauseText) -> list[ClauseText]:
    """A clause enumerating 一是/二是… becomes one piece per item (path "二、一是"), so a citation points
    at the item; any piece still too long is cut at sentences, keeping its path."""
    parts = re.split(r"(?=[一二三四五六七八九十]是)", clause.text)
    if len(parts) < 2 and len(clause.text) <= MAX_CHUNK:
        return [clause]
    pieces: list[ClauseText] = []
    for i, part in enumerate(parts):
        marker = MARKER.match(part)
        if i == 0 and len(parts) > 1 and len(part) < 60:
            continue  # only the heading: it travels with every item below
        path = _path([clause.path, marker.group(0)]) if marker else clause.path
        lead = clause.heading if i > 0 and clause.heading else ""
        for chunk in _sentences(part):
            pieces.append(
                ClauseText(
                    path=path,
                    heading=clause.heading,
                    context=clause.context,
                    text=f"{lead}：{chunk}" if lead else chunk,
                )
            )
    return pieces or [clause]


def _sentences(text: str) -> list[str]:
    if len(text) <= MAX_CHUNK:
        return [text]
    chunks, buffer = [], ""
    for sentence in re.split(r"(?<=[。；])", text):
        if buffer and len(buffer) + len(sentence) > MAX_CHUNK:
            chunks.append(buffer)
            buffer = ""
        buffer += sentence
    return chunks + ([buffer] if buffer else [])
