"""The dashboard: receivables, ageing, DSO, CEI, reply and promise rates, ratings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from app.admin.auth import AdminDep, runtime_of
from app.admin.charts import Bar, bar_chart, describe
from app.admin.pages import render
from app.analytics.metrics import BUCKET_LABELS, BUCKETS, period_figures
from app.analytics.queries import Activity, CurrencyPosition, activity, invoice_histories, positions
from app.db import session_scope
from app.dunning.policies import policies_from
from app.mail.context import format_money, normalise_locale

router = APIRouter(prefix="/admin/dashboard", include_in_schema=False)
PERIODS = (30, 90)


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, admin: AdminDep, days: str = "30") -> HTMLResponse:
    if days not in {str(period) for period in PERIODS}:
        return render(
            request,
            admin,
            "dashboard.html",
            status=422,
            days=days,
            periods=PERIODS,
            error="The period must be 30 or 90 days.",
        )
    runtime = runtime_of(request)
    organisation = admin.organisation
    now = runtime.clock.now()
    zone = ZoneInfo(organisation.default_timezone)
    today = now.astimezone(zone).date()
    currency = organisation.default_currency
    order = _step_order(runtime.settings.config)
    with session_scope(runtime.engine) as session:
        by_currency = positions(session, organisation_id=admin.organisation_id, today=today)
        histories = invoice_histories(
            session,
            organisation_id=admin.organisation_id,
            currency=currency,
            since=now - timedelta(days=max(PERIODS)),
            zone=zone,
        )
        done = activity(
            session,
            organisation_id=admin.organisation_id,
            start=now - timedelta(days=int(days)),
            end=now,
            step_order=order,
        )
    main = by_currency.pop(currency, None) or CurrencyPosition(
        currency, 0, 0, dict.fromkeys(BUCKETS, 0)
    )
    locale = normalise_locale(organisation.default_locale)
    return render(
        request,
        admin,
        "dashboard.html",
        days=days,
        periods=PERIODS,
        error="",
        today=today,
        currency=currency,
        main=main,
        others=list(by_currency.values()),
        ageing_chart=_ageing_chart(main, locale),
        figures=[period_figures(histories, end=now, days=p, zone=zone) for p in PERIODS],
        activity=done,
        steps_chart=_steps_chart(done),
        ratings_chart=_ratings_chart(done),
    )


def _step_order(config: Path) -> dict[str, int]:
    """Step keys by their day offset on the ladders, so the chart reads from first to last."""
    order: dict[str, int] = {}
    for policy in policies_from(config).policies.values():
        for step in policy.steps:
            order[step.key] = min(order.get(step.key, step.offset_days), step.offset_days)
    return order


def _ageing_chart(position: CurrencyPosition, locale: str) -> Markup:
    bars = [
        Bar(
            BUCKET_LABELS[bucket],
            position.ageing[bucket],
            format_money(position.ageing[bucket], position.currency, locale),
        )
        for bucket in BUCKETS
    ]
    return bar_chart(
        chart_id="ageing-chart",
        title=f"Amount due by age, {position.currency}",
        description=describe(bars),
        bars=bars,
    )


def _steps_chart(done: Activity) -> Markup | None:
    if not done.steps:
        return None
    bars = []
    for rate in done.steps:
        share = rate.paid.percent or 0.0
        text = f"{rate.paid.part} of {rate.paid.whole} paid ({share:.0f}%)"
        bars.append(Bar(rate.step, share, text))
    return bar_chart(
        chart_id="steps-chart",
        title="Invoices paid within 7 days of each reminder step",
        description=describe(bars),
        bars=bars,
        maximum=100,
    )


def _ratings_chart(done: Activity) -> Markup | None:
    if not done.ratings.count:
        return None
    bars = [
        Bar(f"{score} out of 5", n, f"{n} rating" + ("" if n == 1 else "s"))
        for score, n in sorted(done.ratings.distribution.items(), reverse=True)
    ]
    return bar_chart(
        chart_id="ratings-chart",
        title="Customers' satisfaction ratings, 1 to 5",
        description=describe(bars),
        bars=bars,
    )
