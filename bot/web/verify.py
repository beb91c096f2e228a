"""扫码入企: the page an inspection filing's QR code opens — is this inspection filed and approved?

The enterprise confirms the inspection took place (recorded with the time) and may rate it; the
rating is stored on the filing's target without who gave it.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, abort, render_template, request

from bot.state import appstate
from inspections import filings
from tickets.workdays import local_date

bp = Blueprint("verify", __name__)


@bp.get("/verify/<code>")
def page(code: str):
    state = appstate()
    with state.Session() as s:
        filing = filings.find_by_code(s, code[:12])
        today = local_date(state.services.clock())
        valid = filing is not None and filing.status == "approved" and filing.start_date <= today <= filing.end_date
        return render_template(
            "verify.html",
            filing=filing,
            valid=valid,
            code=code[:12].upper(),
            kinds=filings.KINDS,
            done=request.args.get("done"),
        )


@bp.post("/verify/<code>")
def confirm(code: str):
    state = appstate()
    with state.Session() as s, s.begin():
        filing = filings.find_by_code(s, code[:12])
        if filing is None or filing.status != "approved":
            abort(404)
        target = next(
            (t for t in filing.targets if t.enterprise.name == request.form.get("enterprise", "").strip()), None
        )
        if target is None:
            return render_template(
                "verify.html",
                filing=filing,
                valid=True,
                code=filing.code,
                kinds=filings.KINDS,
                error="企业名称与备案不符，请核对后再确认。",
            ), 400
        rating = request.form.get("rating", type=int)
        target.scanned_at = target.scanned_at or state.services.clock()
        if rating in (1, 2, 3, 4, 5):
            if target.rating is not None:
                # One rating per inspected enterprise: whoever else holds the code cannot replace it.
                return render_template(
                    "verify.html",
                    filing=filing,
                    valid=True,
                    code=filing.code,
                    kinds=filings.KINDS,
                    error="本次检查已经评价过，评价不能修改。",
                ), 409
            target.rating = rating
    return render_template(
        "verify.html", filing=None, valid=True, code=code[:12].upper(), kinds=filings.KINDS, done=True
    )


@bp.get("/verify/<code>/qr.svg")
def qr(code: str):
    url = f"{appstate().services.config['PUBLIC_URL'].rstrip('/')}/verify/{code[:12].upper()}"
    buffer = io.BytesIO()
    qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return Response(buffer.getvalue(), mimetype="image/svg+xml")
