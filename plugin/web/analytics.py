"""The analytics page (`/analytics`) and its CSV (`/analytics.csv`), for the signed-in shop."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, g, request
from werkzeug.wsgi import wrap_file

from plugin.analytics.export import rows
from plugin.analytics.ranges import RangeError, date_range
from plugin.analytics.report import report
from plugin.web import auth
from plugin.web.desk import render

bp = Blueprint("analytics", __name__)


def _range():
    try:
        return date_range(request.args.get("from"), request.args.get("to"), datetime.now(UTC).date())
    except RangeError as exc:
        abort(400, str(exc)[:1].upper() + str(exc)[1:] + ".")


@bp.get("/analytics")
@auth.require_shop
def page() -> Response:
    start, end = _range()
    g.embedded = None
    data = report(auth.g_session(), g.shop, start, end, datetime.now(UTC))
    return render("analytics.html", report=data, start=start, end=end)


@bp.get("/analytics.csv")
@auth.require_shop
def csv_export() -> Response:
    start, end = _range()
    return csv_response(auth.g_session(), g.shop, start, end)


def csv_response(session, shop, start, end) -> Response:
    """The whole CSV is written while the request holds its database session, into a file that stays in memory
    up to a megabyte; the answer then streams from that file, so a big export neither sits whole in memory nor
    keeps a connection open while the browser downloads."""
    out = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 (the response closes it when sent)
    for line in rows(session, shop, start, end):
        out.write(line.encode())
    out.seek(0)
    name = f"redress-incidents-{start}-{end}.csv"
    return Response(wrap_file(request.environ, out), mimetype="text/csv", direct_passthrough=True,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
