"""Clause search: a question in enterprises' words → the articles that answer it, best first.

Ranking, over the in-memory index (knowledge/index.py):
1. the question's terms: jieba's precise cut, the words inside long words, synonyms folded, and the
   legal words its colloquial ones stand for (knowledge/data/vocabulary.txt: 辞退 → 解除劳动合同);
2. BM25 per field — the article's text, its chapter and headings, the questions attached to it —
   and the closest attached question by character grams;
3. features a plain BM25 misses: the law named in the question (劳动合同法, 社保法), an article number
   (第十九条), and how much of the question's key terms the clause covers.
The weights and the confidence model are fitted on the project's tuning questions
(`appealbot tune-search`, knowledge/data/ranking.json); `answer()` (knowledge/answer.py) decides
from the confidence whether the library answers at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from knowledge import index as library
from nlp.tokenizer import cut, cut_for_search

DATA = Path(__file__).parent / "data"
MAX_QUERY_CHARS = 200  # a pasted page is cut to its beginning: questions are short
POOL = 40  # candidates re-ranked with every feature
STOP = set(
    """的 了 和 与 及 或 是 在 有 吗 呢 啊 吧 呀 么 什么 怎么 怎么办 怎样 如何 哪些 哪个 哪里 哪 能 能不能 可以 可不可以
是否 会 要 想 请问 请 问 一下 我 我们 我司 你 你们 他们 公司 企业 这个 那个 这 那 就 都 也 还 又 给 对 把 被 让 从 到
为 为了 以 之 其 等 个 没有 没 不 吗？ 多少 多久 哪儿 一个 有没有 谁 咋 咋办 啥 现在 已经 应该 需要 必须 规定 法律 国家 政府
怎么样 行不行 行吗 可以吗 合法 违法 算不算 算 属于 情况 问题 事 事情 咨询 了解 知道 告诉 老板 单位
最长 最短 最多 最少 最低 最高 最晚 最早 多长 几天 几个 几个月 几年 多长时间 时间 之内 以内 能定 能给 得给""".split()
)
CN_NUM = "一二三四五六七八九十百零"
ARTICLE = re.compile(rf"第[{CN_NUM}]+条")
CLAUSE_NUMBER = re.compile(rf"第[{CN_NUM}]+条|[{CN_NUM}]+、|[(（][{CN_NUM}]+[)）]")
# What laws and regulations never say: this office's hours, address or phone, this year's figures
# set by local notices, the state of one enterprise's own file. A question about these is not
# answered by any article, however many words it shares with one.
PRACTICAL = re.compile(
    r"几点|上班时间|下班|营业时间|办公时间|周末|节假日.{0,4}(上班|办公|办理)|地址|在哪|哪个窗口|几楼|几号窗口|电话|联系方式|"
    r"怎么走|停车|排队|预约|网址|网站|小程序|今年|明年|去年的|20\d\d年|最新的?|标准是多少|基数|费率|税率|最低工资|"
    r"多少钱|收费标准|进度|批了没|批下来没|到哪(一步|了)|审到|什么时候(能|可以)?(批|下来|办好|出来|到账)|我们(的|家)?(执照|环评|材料|申请)"
)
FEATURES = (
    "body",
    "heading",
    "questions",
    "grams",
    "votes",
    "text_grams",
    "named",
    "coverage",
    "article",
    "kind",
    "support",
    "centroid",
)
# What kind of answer a question wants, and the words an article holding such an answer uses:
# "多久" wants a period (三十日内, 六个月), "罚多少" an amount (元, 倍, 百分之), "能不能" a permission.
ANSWER_KINDS = [
    (
        re.compile(
            r"多久|多长时间|多长|几天|几个月|几年|期限|时限|时间限制|时效|有效期|还有效|过期|来得及|赶趟|时间内|最长|最晚|截止|"
            r"什么时候|几时|过了.{0,4}还"
        ),
        re.compile(rf"[\d{CN_NUM}]+\s*(个)?(日|天|月|年|工作日|小时)|期限|时效|期间|之日起"),
    ),
    (
        re.compile(
            r"多少钱|罚多少|赔多少|补偿多少|给多少|交多少|多少倍|几倍|比例|百分之|几个点|多少个点|几成|怎么算|咋算|标准|上限|"
            r"最多.{0,3}(罚|赔|交)"
        ),
        re.compile(r"[\d十百千万]+元|倍|百分之|[%％]|比例|计算|标准|以下的?罚款|以上.{0,6}以下"),
    ),
    (
        re.compile(r"能不能|可不可以|可以吗|能否|行不行|行吗|有权|合法吗|合理吗|允许|必须|要不要|是不是.{0,6}(得|要)"),
        re.compile(r"可以|有权|不得|应当|禁止|必须"),
    ),
    (re.compile(r"谁|哪个部门|哪一级|哪个机关|向哪|找哪"), re.compile(r"部门|机关|人民政府|委员会|机构|负责")),
]


@dataclass
class Hit:
    clause: library.Entry  # the clause as the index holds it (text, path, anchor, document …)
    score: float
    matched: list[str] = field(default_factory=list)
    coverage: float = 0.0  # share of the question's key terms (by weight) the clause holds
    confidence: float = 0.0  # calibrated: how likely this clause answers the question
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        doc = self.clause.document
        return {
            "text": self.clause.text,
            "doc_title": doc.title,
            "source": doc.source,
            "clause": self.clause.path,
            "score": round(self.score, 4),
            "confidence": round(self.confidence, 4),
            "matched": self.matched,
            "coverage": round(self.coverage, 3),
            "citation": self.clause.citation,
            "version": doc.version,
            "doc_number": doc.doc_number,
            "issuer": doc.issuer,
            "region": doc.region,
            "heading": self.clause.heading,
            "document_id": doc.id,
            "anchor": self.clause.anchor,
        }


# -- the model: feature weights and the confidence's logistic curve ---------------------------------


@dataclass(frozen=True)
class RankingModel:
    weights: dict[str, float]
    expansion_weight: float
    confidence_coef: dict[str, float]
    confidence_intercept: float
    threshold: float  # answer() shows nothing below this confidence
    search_floor: float  # search() returns nothing when its best hit is below this
    fitted_on: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=1, sort_keys=True)


DEFAULT_MODEL = RankingModel(
    # Near what tune-search fits (knowledge/data/ranking.json); the starting point of its candidates,
    # and the weights of a feature the tuning questions never exercise (a named law, a cited article).
    weights={
        "body": 0.1,
        "heading": 0.15,
        "questions": 0.05,
        "grams": 6.0,
        "votes": 0.5,
        "text_grams": 3.0,
        "named": 4.0,
        "coverage": 7.0,
        "article": 6.0,
        "kind": 1.0,
        "support": 0.7,
        "centroid": 12.0,
    },
    expansion_weight=0.6,
    confidence_coef={"top": 0.25, "margin": 1.0, "coverage": 3.0, "grams": 3.0},
    confidence_intercept=-6.0,
    threshold=0.5,
    search_floor=0.3,
    fitted_on="defaults",
)


@lru_cache(maxsize=1)
def model() -> RankingModel:
    path = DATA / "ranking.json"
    if not path.exists():
        return DEFAULT_MODEL
    return RankingModel(**json.loads(path.read_text(encoding="utf-8")))


# -- the question's terms ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def vocabulary() -> list[tuple[str, tuple[str, ...]]]:
    """(colloquial phrase, legal terms it stands for), longest phrase first."""
    table: dict[str, set[str]] = {}
    for path in sorted(DATA.glob("vocabulary*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            legal, _, variants = line.partition("\t")
            for variant in variants.split(","):
                variant = variant.strip()
                if len(variant) >= 2:
                    table.setdefault(variant, set()).update(legal.split())
    return sorted(((v, tuple(sorted(t))) for v, t in table.items()), key=lambda x: -len(x[0]))


def _content(token: str) -> bool:
    return library._content(token) and token not in STOP


@dataclass
class Query:
    text: str
    primary: dict[str, float]  # the question's own terms
    expanded: dict[str, float]  # legal terms its colloquial words stand for, term -> weight
    sources: dict[str, str]  # expanded term -> the primary term or phrase it came from
    legal_phrases: list[str] = field(default_factory=list)  # the vocabulary's legal terms, whole

    @property
    def terms(self) -> dict[str, float]:
        merged = dict(self.expanded)
        merged.update(self.primary)
        return merged


# Courtesies around a question ("先问下", "请问一下", "谢谢") carry nothing to match, yet they dilute
# every character-gram similarity and lowered the confidence of a question that was ranked right:
# "先问下 试用期最长能签几个月" had 0.58 where "试用期最长能签几个月" had 0.82.
COURTESY_BEFORE = re.compile(
    r"^(?:[你您]好[啊呀]?|请问一?下?|问一?下|先问一?下|我?想(?:问|咨询|了解|打听)一?下?|(?:咨询|打听|了解)一?下|"
    r"麻烦(?:问|咨询)?一?下|打扰一?下|(?:领导|同志|老师|工作人员)[你您]?好?)[，,。.！!？?：:、\s~～]*"
)
COURTESY_AFTER = re.compile(r"[，,。.！!\s]*(?:谢谢(?:了|您|你)?|多谢|麻烦了|辛苦了)[。.！!~～\s]*$")


# "多少天内能申请" is cut 多少/天/内能 (内能: internal energy) and "多长时间内要" 多长时间/内要: a period's
# 内 ends the period, so it is cut off before the words after it.
WITHIN = re.compile(r"(?<=[天日月年间周期时])内(?=[^\s容部外])")


def without_courtesies(text: str) -> str:
    while (shorter := COURTESY_BEFORE.sub("", text, count=1)) != text:
        text = shorter
    return COURTESY_AFTER.sub("", text) or text


def parse_query(question: str, expansion_weight: float | None = None) -> Query:
    text = without_courtesies((question or "").strip()[:MAX_QUERY_CHARS])
    weight = model().expansion_weight if expansion_weight is None else expansion_weight
    primary: dict[str, float] = {}
    words = WITHIN.sub("内 ", text)
    for t in cut(words):
        if _content(t):
            primary[t] = 1.0
    for t in cut_for_search(words):  # the words inside long words, at half weight
        if _content(t) and t not in primary:
            primary[t] = 0.5
    expanded: dict[str, float] = {}
    sources: dict[str, str] = {}
    compact = re.sub(r"\s+", "", text)
    phrases: list[str] = []
    for phrase, legal in vocabulary():
        if phrase in compact:
            phrases.extend(t for t in legal if t not in phrases)
            for term in legal:
                for piece in cut_for_search(term) if len(term) > 4 else [term]:
                    if _content(piece) and piece not in primary and piece not in expanded:
                        expanded[piece] = weight
                        sources[piece] = phrase
            compact = compact.replace(phrase, " ")  # a longer phrase wins over the shorter inside it
    return Query(text, primary, expanded, sources, phrases)


def query_terms(question: str) -> list[str]:
    return [t for t, w in parse_query(question).primary.items() if w == 1.0]


# -- ranking -------------------------------------------------------------------------------------


@dataclass
class Candidate:
    entry: int  # position in the index
    lexical: float
    features: dict[str, float]
    matched: list[str]


def candidates(
    session: Session, question: str, ranking: RankingModel, region: str | None = None, pool: int = POOL
) -> tuple[library.LibraryIndex, list[Candidate]]:
    """The clauses worth ranking, with every feature; the best `pool` by the lexical part."""
    query = parse_query(question, ranking.expansion_weight)
    idx = library.current(session)
    if not len(idx) or not (query.primary or query.expanded):
        return idx, []
    columns, weights = library.lookup_terms(idx, query.terms)
    w = ranking.weights
    body = idx.body.score(columns, weights)
    heading = idx.heading.score(columns, weights)
    questions = idx.questions.score(columns, weights)
    grams, votes = idx.grams.match(query.text)
    centroid = idx.grams.centroid(query.text)
    # The law's words the question's colloquial ones stand for count against the clause's own text.
    text_grams = idx.text_grams.best(query.text + " " + " ".join(query.legal_phrases))
    named = _named(idx, query.text)
    lexical = (
        w["body"] * body
        + w["heading"] * heading
        + w["questions"] * questions
        + w["grams"] * grams
        + w.get("votes", 0.0) * votes
        + w.get("text_grams", 0.0) * text_grams
        + w["named"] * named
        + w.get("centroid", 0.0) * centroid
    )
    if region:
        lexical = lexical * np.array([e.region == region for e in idx.entries])
    chosen = [int(i) for i in np.argsort(-lexical)[:pool] if lexical[i] > 0]
    # An article the question cites by number in a law it names is always a candidate.
    articles = set(ARTICLE.findall(query.text))
    if articles:
        cited = [i for i, e in enumerate(idx.entries) if named[i] > 0 and e.path in articles and i not in chosen]
        chosen = cited + chosen
    if not chosen:
        return idx, []
    coverage, matched = _coverage(idx, query, chosen)
    wants = [answer for asked, answer in ANSWER_KINDS if asked.search(query.text)]
    # How strongly the question points at each document as a whole: a law whose several articles
    # match is likelier to hold the answer than one article standing alone in another law.
    by_document: dict[int, float] = {}
    for i in chosen:
        by_document[idx.entries[i].document_id] = by_document.get(idx.entries[i].document_id, 0.0) + float(lexical[i])
    total = sum(by_document.values()) or 1.0
    practical = 1.0 if PRACTICAL.search(query.text) else 0.0
    key = [t for t, wgt in query.primary.items() if wgt == 1.0] or list(query.primary)
    unknown = sum(t not in idx.vocabulary for t in key) / (len(key) or 1)  # words the library never uses
    # Independent views agreeing on one clause (its questions' centroid, its nearest questions' votes,
    # the words of everything together) is the best sign the clause is the answer, for the ranking and
    # for the confidence alike.
    leaders = (int(np.argmax(centroid)), int(np.argmax(votes)), chosen[0])
    found = []
    for i in chosen:
        article = 1.0 if articles and idx.entries[i].path in articles and named[i] > 0 else 0.0
        kind = sum(1.0 for answer in wants if answer.search(idx.entries[i].text)) / (len(wants) or 1)
        found.append(
            Candidate(
                i,
                float(lexical[i]),
                {
                    "body": float(body[i]),
                    "heading": float(heading[i]),
                    "questions": float(questions[i]),
                    "grams": float(grams[i]),
                    "votes": float(votes[i]),
                    "text_grams": float(text_grams[i]),
                    "centroid": float(centroid[i]),
                    "agree": sum(i == leader for leader in leaders) / len(leaders),
                    "named": float(named[i]),
                    "coverage": coverage[i],
                    "article": article,
                    "practical": practical,
                    "unknown": unknown,
                    "kind": kind,
                    # A question that wants a period or an amount, put to a clause that names none, is
                    # mostly one whose figure local rules set (this year's rate, the minimum pay).
                    "unmet": 1.0 if wants and not kind else 0.0,
                    "support": (by_document[idx.entries[i].document_id] - float(lexical[i])) / total,
                },
                matched[i],
            )
        )
    return idx, found


def final_score(ranking: RankingModel, c: Candidate) -> float:
    w = ranking.weights
    return sum(w.get(name, 0.0) * c.features[name] for name in FEATURES)


def rank(
    session: Session, question: str, k: int = 3, region: str | None = None, ranking: RankingModel | None = None
) -> list[Hit]:
    ranking = ranking or model()
    idx, found = candidates(session, question, ranking, region)
    if not found:
        return []
    # A question that cites an article of a law it names (劳动合同法第十九条) is a lookup, not a search:
    # that article comes first and is shown whatever the other features say.
    scored = sorted(
        ((final_score(ranking, c), c) for c in found),
        key=lambda x: (-x[1].features["article"], -x[0], idx.entries[x[1].entry].id),
    )
    second = scored[1][0] if len(scored) > 1 else 0.0
    hits = []
    for n, (score, c) in enumerate(scored[: max(1, min(int(k), 50))]):
        margin = score - (second if n == 0 else scored[0][0])
        hits.append(
            Hit(
                idx.entries[c.entry],
                score,
                c.matched,
                c.features["coverage"],
                1.0 if c.features["article"] else confidence(ranking, score, margin, c.features),
                c.features,
            )
        )
    return hits


def _named(idx: library.LibraryIndex, text: str) -> np.ndarray:
    """1 for the clauses of a document the question names (劳动合同法, 社会保险法 …)."""
    docs = {doc for doc, names in idx.titles.items() if any(n in text for n in names)}
    if not docs:
        return np.zeros(len(idx))
    return np.array([1.0 if e.document_id in docs else 0.0 for e in idx.entries])


def _coverage(idx, query: Query, pool: list[int]):
    """Per candidate: the share of the question's key terms it holds (a primary term counts when the
    clause holds it or a legal word it stands for), weighted by idf; and the matched terms."""
    terms = [t for t in query.terms if t in idx.vocabulary]
    if not terms:
        return {i: 0.0 for i in pool}, {i: [] for i in pool}
    held = idx.any_field[:, [idx.vocabulary[t] for t in terms]][pool].toarray() > 0  # pool × terms
    position = {t: n for n, t in enumerate(terms)}
    # Words the library never uses cannot be covered by any clause; the "unknown" feature counts them.
    key = {t: w for t, w in query.primary.items() if w == 1.0 and t in idx.vocabulary} or {
        t: w for t, w in query.primary.items() if t in idx.vocabulary
    }
    idf = {t: idx.body.idf[idx.vocabulary[t]] for t in key}
    total = sum(idf.values()) or 1.0
    # a key term is also held through a legal word it stands for (辞退 → 解除劳动合同)
    through = {
        t: [position[x] for x, phrase in query.sources.items() if x in position and (t in phrase or phrase in t)]
        for t in key
    }
    coverage, matched = {}, {}
    for row, i in zip(held, pool, strict=True):
        got = sum(idf[t] for t in key if (t in position and row[position[t]]) or any(row[j] for j in through[t]))
        coverage[i] = got / total
        matched[i] = [t for t in terms if row[position[t]]]
    return coverage, matched


CONFIDENCE_INPUTS = (
    "top",
    "margin",
    "coverage",
    "grams",
    "text_grams",
    "named",
    "practical",
    "unknown",
    "centroid",
    "agree",
    "unmet",
)


def confidence_inputs(score: float, margin: float, features: dict[str, float]) -> list[float]:
    return [
        score,
        margin,
        features["coverage"],
        features["grams"],
        features["text_grams"],
        features["named"],
        features["practical"],
        features["unknown"],
        features["centroid"],
        features["agree"],
        features["unmet"],
    ]


def confidence(ranking: RankingModel, score: float, margin: float, features: dict[str, float]) -> float:
    """The logistic curve fitted on the tuning questions: P(this clause answers the question)."""
    values = confidence_inputs(score, margin, features)
    z = ranking.confidence_intercept + sum(
        ranking.confidence_coef.get(name, 0.0) * v for name, v in zip(CONFIDENCE_INPUTS, values, strict=True)
    )
    return float(1 / (1 + np.exp(-z)))


def search(session: Session, question: str, k: int = 3, region: str | None = None) -> list[Hit]:
    """The k best clauses for a question (the policies page, `appealbot search`); none when even the
    best one most likely does not answer it (below the model's search floor)."""
    hits = rank(session, question, k=k, region=region)
    return hits if hits and hits[0].confidence >= model().search_floor else []
