"""The OpenAPI 3.0 document of /api/v1: every path parameter declared, a schema for every response.

Checked against the specification by openapi-spec-validator in the tests; the routes' answers are
checked against these schemas there too, so the document cannot drift from what the API sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NULLABLE_STRING = {"type": "string", "nullable": True}
RATE = {"type": "number", "nullable": True, "minimum": 0, "maximum": 1, "description": "0–1；无可计算的工单时为 null"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "中文说明"}},
    },
    "Enterprise": {
        "type": "object",
        "required": ["name", "phone"],
        "description": "匿名反映时，仅营商办可见企业信息",
        "properties": {"name": NULLABLE_STRING, "phone": NULLABLE_STRING},
    },
    "Event": {
        "type": "object",
        "required": ["at", "actor", "actor_name", "action", "action_name", "from", "to", "note"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string"},
            "actor_name": {"type": "string", "description": "办理人，如 王某（市行政审批服务局）"},
            "action": {"type": "string"},
            "action_name": {"type": "string", "description": "中文说明"},
            "from": NULLABLE_STRING,
            "to": NULLABLE_STRING,
            "note": NULLABLE_STRING,
        },
    },
    "Ticket": {
        "type": "object",
        "required": [
            "number",
            "kind",
            "category",
            "category_name",
            "text",
            "status",
            "status_name",
            "department",
            "region",
            "enterprise",
            "anonymous",
            "created_at",
            "deadline",
            "accept_due",
            "result",
            "rating",
            "redo_count",
            "supervised",
            "extension",
        ],
        "properties": {
            "number": {"type": "string", "pattern": r"^YQ-\d{8}-\d{4,6}$"},
            "kind": {"type": "string", "enum": ["appeal", "complaint"]},
            "category": {"type": "string"},
            "category_name": {"type": "string"},
            "confidence": {"type": "number", "nullable": True},
            "text": {"type": "string"},
            "status": {"type": "string"},
            "status_name": {"type": "string"},
            "department": NULLABLE_STRING,
            "region": {"type": "string"},
            "enterprise": _ref("Enterprise"),
            "anonymous": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "deadline": {"type": "string", "format": "date-time", "nullable": True},
            "accept_due": {"type": "string", "format": "date-time", "nullable": True},
            "result": {"type": "string", "nullable": True, "description": "答复；重办中的工单为 null"},
            "rating": {"type": "integer", "nullable": True, "minimum": 1, "maximum": 5},
            "redo_count": {"type": "integer"},
            "supervised": {"type": "boolean"},
            "extension": {
                "type": "object",
                "nullable": True,
                "description": "待审批的延期申请",
                "properties": {
                    "days": {"type": "integer"},
                    "reason": {"type": "string"},
                    "by": {"type": "string"},
                    "at": {"type": "string"},
                },
            },
        },
    },
    "TicketDetail": {
        "allOf": [
            _ref("Ticket"),
            {
                "type": "object",
                "required": ["events"],
                "properties": {"events": {"type": "array", "items": _ref("Event")}},
            },
        ]
    },
    "TicketList": {
        "type": "object",
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": _ref("Ticket")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    },
    "RankingRow": {
        "type": "object",
        "required": ["department", "total", "resolved", "overdue", "on_time_rate", "satisfaction"],
        "properties": {
            "department": {"type": "string"},
            "total": {"type": "integer"},
            "resolved": {"type": "integer"},
            "open": {"type": "integer"},
            "overdue": {"type": "integer"},
            "overdue_open": {"type": "integer"},
            "returns": {"type": "integer"},
            "ratings": {"type": "integer"},
            "redos": {"type": "integer"},
            "supervised": {"type": "integer"},
            "on_time_rate": RATE,
            "on_time_acceptance_rate": RATE,
            "satisfaction": RATE,
            "return_rate": RATE,
            "redo_rate": RATE,
        },
    },
    "Stats": {
        "type": "object",
        "required": [
            "total",
            "open",
            "overdue",
            "on_time_rate",
            "resolution_rate",
            "satisfaction_rate",
            "on_time_acceptance_rate",
            "return_rate",
            "redo_rate",
            "ranking",
        ],
        "description": "超期、回退、评价、重办记在当时负责的部门名下；待办工单过期即计为未按时",
        "properties": {
            "total": {"type": "integer"},
            "open": {"type": "integer"},
            "overdue": {"type": "integer"},
            "overdue_open": {"type": "integer"},
            "supervised": {"type": "integer"},
            "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_category": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_department": {"type": "object", "additionalProperties": {"type": "integer"}},
            "on_time_rate": RATE,
            "resolution_rate": RATE,
            "satisfaction_rate": RATE,
            "on_time_acceptance_rate": RATE,
            "return_rate": RATE,
            "redo_rate": RATE,
            "median_hours_to_accept": {"type": "number", "nullable": True},
            "median_hours_to_resolve": {"type": "number", "nullable": True},
            "ranking": {"type": "array", "items": _ref("RankingRow")},
        },
    },
    "Filing": {
        "type": "object",
        "required": [
            "code",
            "department",
            "kind",
            "matters",
            "legal_basis",
            "inspectors",
            "start",
            "end",
            "status",
            "warnings",
            "enterprises",
            "verify_url",
            "qr_url",
        ],
        "properties": {
            "code": {"type": "string"},
            "department": {"type": "string"},
            "kind": {"type": "string", "enum": ["random", "special", "complaint", "assigned"]},
            "matters": {"type": "string"},
            "legal_basis": {"type": "string"},
            "inspectors": {"type": "string"},
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date"},
            "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "warnings": {"type": "array", "items": {"type": "object"}},
            "reason": NULLABLE_STRING,
            "decision_note": NULLABLE_STRING,
            "enterprises": {"type": "array", "items": {"type": "string"}},
            "verify_url": {"type": "string"},
            "qr_url": {"type": "string"},
        },
    },
    "FilingList": {
        "type": "object",
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": _ref("Filing")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    },
}

ERRORS = {
    "400": "参数错误",
    "401": "缺少或无效的 API 令牌",
    "403": "无权进行此操作",
    "404": "不存在或无权查看",
    "409": "当前状态不允许此操作，或工单已被他人更新",
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, type_: str = "string", fmt: str | None = None) -> dict:
    schema: dict[str, Any] = {"type": type_}
    if fmt:
        schema["format"] = fmt
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _path(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _op(
    summary: str,
    ok: str,
    schema: str,
    errors: tuple[str, ...],
    *,
    params: Sequence[dict] = (),
    body: dict | None = None,
    status: str = "200",
    description: str | None = None,
) -> dict:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": list(params),
        "responses": {
            status: _json(_ref(schema), ok),
            **{code: _json(_ref("Error"), ERRORS[code]) for code in ("401", *errors)},
        },
    }
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


NUMBER = _path("number", "工单编号，如 YQ-20261122-0007")
CODE = _path("code", "检查备案码（6 位）")
PAGING = [_query("page", "页码，从 1 开始", "integer"), _query("per_page", "每页条数，1–100", "integer")]
PERIOD = [
    _query("since", "提交时间起（ISO 日期或时间）", fmt="date-time"),
    _query("until", "提交时间止（不含）", fmt="date-time"),
]


def document(actions: list[str]) -> dict[str, Any]:
    action_body = {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"type": "string", "enum": actions},
            "text": {
                "type": "string",
                "description": "办结的答复、退回/提级/延期的原因、补充材料的要求、备注或审批意见。"
                "也接受旧字段名 result、reason、note",
            },
            "result": {"type": "string", "deprecated": True},
            "reason": {"type": "string", "deprecated": True},
            "note": {"type": "string", "deprecated": True},
            "days": {"type": "integer", "minimum": 1, "maximum": 30, "description": "request_extension：延期工作日"},
            "department": {"type": "string", "description": "assign：部门编码或名称"},
            "official": {"type": "string", "description": "delegate：本部门人员的登录名或企业微信账号"},
            "category": {"type": "string", "description": "correct_category：新类别代码"},
            "parent": {"type": "string", "description": "link：主工单编号"},
            "confirm_named": {
                "type": "boolean",
                "description": "assign：确认分办给投诉所反映的部门（仅营商办督办人员）",
            },
        },
    }
    filing_body = {
        "type": "object",
        "required": ["enterprises", "kind", "matters", "legal_basis", "inspectors", "start", "end"],
        "properties": {
            "enterprises": {
                "type": "array",
                "items": {"type": "string"},
                "description": "企业名称或统一社会信用代码；尚未登记的企业写“名称 信用代码”",
            },
            "kind": {"type": "string", "enum": ["random", "special", "complaint", "assigned"]},
            "matters": {"type": "string"},
            "legal_basis": {"type": "string"},
            "inspectors": {"type": "string"},
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date"},
            "reason": {"type": "string"},
        },
    }
    decision_body = {
        "type": "object",
        "required": ["approve"],
        "properties": {
            "approve": {"type": "boolean"},
            "note": {"type": "string", "description": "驳回时必填：驳回理由"},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "appealbot 诉求工单 API",
            "version": "1",
            "description": "部门人员只能看到和办理本部门的工单（其他部门的工单返回 404）；营商办督办人员可见全部。",
        },
        "servers": [{"url": "/"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "paths": {
            "/api/v1/tickets": {
                "get": _op(
                    "工单列表（按权限过滤）",
                    "工单列表",
                    "TicketList",
                    ("400",),
                    params=[
                        _query("status", "状态，逗号分隔"),
                        _query("category", "类别代码，逗号分隔"),
                        _query("kind", "appeal 或 complaint"),
                        _query("region", "区域"),
                        _query("department", "承办部门编码或名称"),
                        _query("overdue", "1：只看超期"),
                        _query("q", "编号、企业名称、电话、统一社会信用代码或内容"),
                        *PERIOD,
                        *PAGING,
                    ],
                )
            },
            "/api/v1/tickets/{number}": {
                "get": _op("工单详情与全部流转记录", "工单详情", "TicketDetail", ("404",), params=[NUMBER])
            },
            "/api/v1/tickets/{number}/actions": {
                "post": _op(
                    "办理工单",
                    "办理后的工单",
                    "TicketDetail",
                    ("400", "403", "404", "409"),
                    params=[NUMBER],
                    body=action_body,
                    description="可用的 action 及其适用状态见流转表（tickets/transitions.py）；"
                    "办结、退回、提级、补充材料、延期须填写 text。",
                )
            },
            "/api/v1/stats": {
                "get": _op(
                    "统计：按时办结率、解决率、满意率、红黑榜",
                    "统计数据",
                    "Stats",
                    ("400",),
                    params=[*PERIOD, _query("region", "区域"), _query("department", "部门编码或名称（仅营商办）")],
                )
            },
            "/api/v1/inspections": {
                "get": _op(
                    "检查备案列表（本部门；营商办可见全部）",
                    "备案列表",
                    "FilingList",
                    ("400",),
                    params=[_query("status", "pending、approved、rejected，逗号分隔"), *PAGING],
                ),
                "post": _op(
                    "提交涉企检查备案（凡检必报）",
                    "已提交的备案（待审批）",
                    "Filing",
                    ("400",),
                    body=filing_body,
                    status="201",
                ),
            },
            "/api/v1/inspections/{code}": {"get": _op("查看检查备案", "备案", "Filing", ("404",), params=[CODE])},
            "/api/v1/inspections/{code}/decision": {
                "post": _op("审批检查备案", "审批后的备案", "Filing", ("400", "404"), params=[CODE], body=decision_body)
            },
        },
    }


__all__ = ["document", "SCHEMAS"]
