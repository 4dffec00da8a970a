"""The response metrics page, its CSV download (the same numbers, from chat/services/metrics.py)."""

from flask import Response, render_template, request
from flask_login import current_user

from .. import spreadsheets
from ..services import ValidationError, access, metrics
from . import bp, charts


def _period_or_errors():
    try:
        return metrics.period_from(request.args, admin=current_user), {}
    except ValidationError as error:
        return metrics.period_from({}, admin=current_user), error.fields


@bp.get("/metrics")
def metrics_page():
    """Inquiries per day, time to first answer, waiting now, satisfaction, suggestions: for a period."""
    period, errors = _period_or_errors()
    report = metrics.compute(period)
    html = render_template(
        "admin/metrics.html",
        report=report,
        period=period,
        errors=errors,
        form={k: request.args.get(k, "") for k in ("from", "to", "site")} if errors else None,
        presets=metrics.PRESETS,
        sites=access.visible_sites(current_user),
        duration=metrics.duration,
        inquiries_chart=charts.inquiries_chart(report.days),
        response_chart=charts.response_chart(report.days),
    )
    return html, 422 if errors else 200


@bp.get("/metrics.csv")
def metrics_csv():
    """The page's numbers as CSV: one row per figure (section, key, metric, value)."""
    period = metrics.period_from(request.args, admin=current_user)  # a bad date is the usual 422 page
    # Names come from admins and shoppers' pages: kept from running as formulas.
    body = spreadsheets.write(metrics.csv_rows(metrics.compute(period)))
    name = f"metrics-{period.start}-{period.end}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
