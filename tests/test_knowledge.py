"""The policy knowledge base: structure, ingest of every format and of hostile files, search, citations."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from knowledge import ingest as ing
from knowledge.bundled import ingest_bundled
from knowledge.models import PolicyDocument
from knowledge.search import search
from knowledge.structure import parse
from tests.platforms import web_say

DOC = """国办发〔2024〕54号
国务院办公厅关于严格规范涉企行政检查的意见
2024年12月31日
各省、自治区、直辖市人民政府：
一、总体要求
（一）严格检查主体。行政检查必须由具有法定资格的执法人员实施。
1. 检查前应当报批。未经批准不得入企检查。
（1）临时性检查至少提前一个工作日报备。
二、规范检查频次
第五条 同一部门对同一企业年度检查原则上不超过一次。
"""


def test_clause_hierarchy_metadata_and_paths():
    p = parse(DOC)
    assert (p.title, p.doc_number, p.issued) == ("国务院办公厅关于严格规范涉企行政检查的意见", "国办发〔2024〕54号", "2024年12月31日")
    paths = [c.path for c in p.clauses]
    assert paths == ["", "一、", "一、(一)", "一、(一) 1.", "一、(一) 1. (1)", "二、", "第五条"]
    clause = next(c for c in p.clauses if c.path == "一、(一) 1.")
    assert clause.heading == "检查前应当报批" and clause.context == "总体要求 › 严格检查主体"


def test_run_in_headings_and_long_clauses_are_chunked():
    long = "1、畅通诉求反映渠道。" + "经营主体提出的诉求统一汇总办理。" * 40
    p = parse("某某机制\n一、工作措施\n" + long)
    pieces = [c for c in p.clauses if c.path == "一、 1." or c.path == "一、1."]
    assert pieces and pieces[0].heading == "畅通诉求反映渠道" and len(pieces) > 1
    assert all(len(c.text) <= 400 for c in pieces)


@pytest.fixture
def session(app):
    with app.extensions["appealbot"].Session() as s:
        yield s


@pytest.fixture
def bundled(session):
    ingest_bundled(session)
    session.commit()
    return session


def test_bundled_corpus_ingests_once_and_answers(bundled):
    assert "0 ingested now" in ingest_bundled(bundled)
    hits = search(bundled, "小微企业贷款有风险补偿吗", k=3)
    top = hits[0].to_dict()
    assert top["source"] == "001_59af95d8e4612e01.txt" and top["clause"] == "三、(二) 5."
    assert {"text", "doc_title", "source", "clause", "score"} <= set(top) and "风险补偿" in top["matched"]
    assert hits[0].score >= hits[-1].score


def test_the_projects_question_set_meets_the_bar(bundled):
    from knowledge.evaluation import evaluate, load_questions

    result = evaluate(bundled, load_questions())
    assert result["n"] >= 60 and result["recall@3"] >= 0.9, result["misses"]


def test_synonyms_fold_on_both_sides(bundled):
    assert search(bundled, "公积金的事能反映吗")[0].clause.path == "二、(一) 3."


def test_region_filter_and_bad_queries(bundled):
    assert all(h.clause.document.region == "庆阳市" for h in search(bundled, "营商环境", k=5, region="庆阳市"))
    assert search(bundled, "") == [] and search(bundled, "   ？！") == []
    assert isinstance(search(bundled, "营商环境" * 1250), list)  # 5,000 characters: cut, answered
    assert search(bundled, "今天天气怎么样") == []


def test_changed_file_is_updated_unchanged_skipped_and_retired_not_searched(session):
    first = ing.ingest_bytes(session, "rule.txt", DOC.encode("utf-8"))
    assert (first.status, ing.ingest_bytes(session, "rule.txt", DOC.encode("utf-8")).status) == ("added", "unchanged")
    changed = ing.ingest_bytes(session, "rule.txt", (DOC + "第六条 检查结果应当当场告知企业。\n").encode("utf-8"))
    session.commit()
    assert changed.status == "updated" and search(session, "检查结果当场告知")[0].clause.path == "第六条"
    assert ing.retire(session, "rule.txt")
    session.commit()
    assert search(session, "检查结果当场告知") == []


# -- formats and hostile files -------------------------------------------------------------------

def _docx_with_numbering() -> bytes:
    from docx import Document

    document = Document()
    for text in ("关于规范涉企检查的通知", "总体要求", "检查前报批", "检查后反馈"):
        document.add_paragraph(text, style="List Number" if text != "关于规范涉企检查的通知" else None)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_automatic_numbering_is_rebuilt(session):
    text = ing.read("a.docx", _docx_with_numbering())
    assert "1.总体要求" in text and "3.检查后反馈" in text


def test_pdf_html_and_gbk_are_read(session):
    from pypdf import PdfWriter

    assert "一、总体要求" in ing.read("a.html", "<html><body><h1>通知</h1><p>一、总体要求</p><script>x()</script></body></html>".encode())
    assert "总体要求" in ing.read("a.txt", "一、总体要求".encode("gbk"))
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert ing.read("blank.pdf", buffer.getvalue()) == ""  # readable, simply empty


def test_hostile_files_get_a_message_each_and_the_batch_goes_on(session):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    encrypted = io.BytesIO()
    writer.write(encrypted)
    fake_docx = io.BytesIO()
    with zipfile.ZipFile(fake_docx, "w") as z:
        z.writestr("hello.txt", "not a word document")
    batch = [("locked.pdf", encrypted.getvalue()), ("broken.pdf", b"%PDF-1.4 garbage"), ("fake.docx", fake_docx.getvalue()),
             ("empty.txt", b""), ("binary.txt", bytes(range(256)) * 4), ("notes.xyz", b"x"), ("good.txt", DOC.encode("utf-8"))]
    outcomes = {name: ing.ingest_bytes(session, name, data) for name, data in batch}
    session.commit()
    assert "加密" in outcomes["locked.pdf"].message
    assert all(outcomes[n].status == "error" and outcomes[n].message for n in ("broken.pdf", "fake.docx", "empty.txt", "notes.xyz"))
    assert outcomes["good.txt"].status == "added"
    assert [d.source for d in session.scalars(select(PolicyDocument))] in (["good.txt"], ["binary.txt", "good.txt"]) \
        and outcomes["binary.txt"].status in ("error", "added")


def test_cli_search_json_contract(app, bundled, monkeypatch):
    from click.testing import CliRunner

    import bot.cli

    monkeypatch.setattr(bot.cli, "_app", lambda: app)
    result = CliRunner().invoke(bot.cli.main, ["search", "首席服务员要做哪些事", "--json", "-k", "2"])
    hits = json.loads(result.output)
    assert len(hits) <= 2 and hits[0]["source"] == "004_83a62c9dda4af6ba.txt" and hits[0]["clause"] == "二、(二)"


# -- chat and the page ---------------------------------------------------------------------------

@dataclass
class PolicyStub:
    threshold: float = 0.5

    def predict(self, text):
        from nlp import rules
        from nlp.classifier import Prediction

        ruled = rules.match(text)
        if ruled:
            return Prediction("other", ruled, 1.0, source="rule")
        return Prediction("appeal", "policy", 0.9, [])


def test_the_bot_answers_with_citations_and_offers_a_person(app, bundled, client, monkeypatch):
    app.extensions["appealbot"].services.classifier = PolicyStub()
    calls = []
    import handlers.appeal

    monkeypatch.setattr(handlers.appeal, "start_appeal", lambda ctx, **kw: calls.append(kw) or __import__(
        "handlers.messages", fromlist=["Reply"]).Reply("已转人工"))
    reply = web_say(client, "小微企业贷款有风险补偿吗", "p1")["reply"]
    assert "风险补偿" in reply and "《伊犁州直关于进一步优化提升营商环境的实施意见》" in reply and "三、(二) 5." in reply
    assert len(reply) <= 600 and "回复 1 转人工" in reply
    assert web_say(client, "1", "p1")["reply"] == "已转人工"
    assert calls[0]["category"] == "policy" and calls[0]["extra"]["shown"][0]["clause"] == "三、(二) 5."


def test_nothing_relevant_is_said_plainly(app, bundled, client):
    app.extensions["appealbot"].services.classifier = PolicyStub()
    reply = web_say(client, "火星上的厂房怎么申请外星人补贴", "p2")["reply"]
    assert "没有找到" in reply and "——《" not in reply


def test_policies_page_highlights_safely_and_links_clauses(bundled, client):
    page = client.get("/policies?q=首席服务员<script>").get_data(as_text=True)
    assert "<mark>首席服务员</mark>" in page and "<script>" not in page
    doc_id = bundled.scalars(select(PolicyDocument).where(PolicyDocument.source == "004_83a62c9dda4af6ba.txt")).one().id
    assert f'/policies/{doc_id}#c' in page
    document = client.get(f"/policies/{doc_id}").get_data(as_text=True)
    assert 'id="c1"' in document and "首席服务员" in document
    assert client.get("/policies/999999").status_code == 404
