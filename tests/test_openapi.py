"""The OpenAPI document is valid (openapi-spec-validator), names every API route with its path
parameters, and what the routes answer matches the response schemas it declares."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from sqlalchemy import select

from tickets import service
from tickets.accounts import token_hash
from tickets.models import Official

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


def test_the_document_is_valid_openapi(spec):
    validate(spec)  # raises with the first violation (an undeclared path parameter did)


def test_every_api_route_is_described(app, spec):
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule): {m.lower() for m in r.methods} - {"head", "options"}
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/") and not r.rule.endswith("openapi.json")
    }
    described = {path: set(ops) for path, ops in spec["paths"].items()}
    for path, methods in routes.items():
        assert methods <= described.get(path, set()), path
    assert "get" in described["/api/v1/inspections"]


def _inline(node, spec):
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            return _inline(spec["components"]["schemas"][name], spec)
        return {k: _inline(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, spec) for v in node]
    return node


def check(spec, path, method, response):
    declared = spec["paths"][path][method]["responses"][str(response.status_code)]
    schema = _inline(declared["content"]["application/json"]["schema"], spec)
    OAS30Validator(schema).validate(response.get_json())


@pytest.fixture
def api(demo, client):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        for login in ("scjg", "yingshang"):
            s.scalars(select(Official).where(Official.wecom_user_id == login)).one().api_token_hash = token_hash(
                f"tok-{login}"
            )
        number = service.create_ticket(
            s, channel="web", user_id="e1", text="商标被人仿冒", kind="appeal", category="gov_service", now=NOW
        ).number

    def call(method, path, who="scjg", **kw):
        return getattr(client, method)(path, headers={"Authorization": f"Bearer tok-{who}"}, **kw)

    call.number = number
    return call


def test_the_answers_match_the_declared_schemas(api, spec):
    n = api.number
    check(spec, "/api/v1/tickets", "get", api("get", "/api/v1/tickets?q=仿冒"))
    check(spec, "/api/v1/tickets/{number}", "get", api("get", f"/api/v1/tickets/{n}"))
    check(spec, "/api/v1/tickets/{number}", "get", api("get", "/api/v1/tickets/YQ-20990101-0001"))  # 404 Error
    check(
        spec,
        "/api/v1/tickets/{number}/actions",
        "post",
        api("post", f"/api/v1/tickets/{n}/actions", json={"action": "accept"}),
    )
    check(
        spec,
        "/api/v1/tickets/{number}/actions",
        "post",
        api("post", f"/api/v1/tickets/{n}/actions", json={"action": "accept"}),
    )  # 409: already accepted
    r = api("post", f"/api/v1/tickets/{n}/actions", json={"action": "resolve", "text": "已立案调查"})
    assert r.status_code == 200 and r.get_json()["result"] == "已立案调查"  # `text` is enough (was `result` only)
    assert r.get_json()["events"][-1]["action_name"] == "答复办结"
    check(spec, "/api/v1/tickets/{number}/actions", "post", r)
    check(spec, "/api/v1/stats", "get", api("get", "/api/v1/stats", who="yingshang"))
    filed = api(
        "post",
        "/api/v1/inspections",
        json={
            "enterprises": ["某某新材料有限公司 91350100M000100Y43"],
            "kind": "special",
            "matters": "计量器具",
            "legal_basis": "《计量法》",
            "inspectors": "执法证 3301",
            "start": "2026-11-24",
            "end": "2026-11-24",
        },
    )
    check(spec, "/api/v1/inspections", "post", filed)
    code = filed.get_json()["code"]
    check(spec, "/api/v1/inspections", "get", api("get", "/api/v1/inspections"))
    check(spec, "/api/v1/inspections/{code}", "get", api("get", f"/api/v1/inspections/{code}"))
    rejected = api("post", f"/api/v1/inspections/{code}/decision", who="yingshang", json={"approve": False})
    assert rejected.status_code == 400 and "理由" in rejected.get_json()["error"]  # a rejection takes a reason
    check(spec, "/api/v1/inspections/{code}/decision", "post", rejected)
    check(
        spec,
        "/api/v1/inspections/{code}/decision",
        "post",
        api(
            "post", f"/api/v1/inspections/{code}/decision", who="yingshang", json={"approve": False, "note": "依据不足"}
        ),
    )
    assert api("get", "/api/v1/inspections").get_json()["items"][0]["decision_note"] == "依据不足"
