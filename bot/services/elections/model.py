"""A neutral illustration of an employee's eligible grants and the new options they would become.

Arithmetic only, at share prices the person chooses: the intrinsic value of each old grant and
of the new option, and vested shares over time under each schedule. No ranking, no verdict:
the offer says no one may recommend whether to tender (cover, p. i; Q29, p. 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.domain.deadlines import business_calendar, new_grant_date
from bot.domain.eligibility import GrantAssessment
from bot.domain.modelling import intrinsic_value, sample_dates, straight_line_vested, vested_on
from bot.domain.new_option import vesting_schedule
from bot.domain.records import AuditEntry
from bot.domain.roster import Employee
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_money, format_shares
from bot.ports import UnitOfWork
from bot.replies import Reply, Table
from bot.services.access import authorize_self_or_operator
from bot.services.elections.person import load_person
from bot.services.errors import InvalidRequestError
from bot.services.identity import Identity

__all__ = ["ModelResult", "illustration_label", "model_json", "model_options", "model_reply"]


@dataclass(frozen=True, slots=True)
class ModelResult:
    employee: Employee
    grants: tuple[GrantAssessment, ...]  # the eligible ones
    prices: tuple[Decimal, ...]
    new_strikes: tuple[Decimal, ...]
    new_grant_date: date
    dates: tuple[date, ...]
    old_vesting_months: int | None
    terms: OfferTerms


def illustration_label(terms: OfferTerms) -> str:
    return (
        "Illustration only: arithmetic at example share prices, not a forecast. "
        "Intrinsic value = (share price - exercise price) x shares, never below zero, before "
        "taxes and costs. The new option's exercise price will be the "
        f"{terms.exercise_price_rule} (Q11, p. 2) and is unknown until then; new options vest "
        "only while you remain an employee (Q13, p. 3). The decision is yours alone."
    )


def _explanation(m: ModelResult) -> str:
    """What the two value columns mean, in plain words, for the person's own figures."""
    count = len(m.grants)
    old_shares = sum(g.grant.unexercised_shares for g in m.grants)
    new_shares = sum(g.new_option_shares for g in m.grants)
    grants = f"your {count} eligible grant{'s' * (count != 1)}"
    return (
        "Illustration only, not a forecast.\n"
        "What the figures mean: for each example share price, “Old grants' value” is what the "
        f"{format_shares(old_shares)} unexercised shares of {grants} would be worth above "
        "their exercise prices, and “New option at $X” is the same for the "
        f"{format_shares(new_shares)} new-option shares if their exercise price were $X.\n"
        "Intrinsic value = (share price - exercise price) x shares, never below zero, before "
        "taxes and costs. The new option's exercise price will be the "
        f"{m.terms.exercise_price_rule} (Q11, p. 2) and is unknown today; new options vest only "
        "while you remain an employee (Q13, p. 3). The decision is yours alone."
    )


async def model_options(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    prices: Sequence[Decimal],
    new_strikes: Sequence[Decimal],
    identity: Identity,
    now: datetime,
    old_vesting_months: int | None = None,
) -> ModelResult:
    """Without ``prices``: the eligible grants' own exercise prices. Without ``new_strikes``:
    the same values as ``prices``."""
    authorize_self_or_operator(identity, employee_id)
    for value in (*prices, *new_strikes):
        if not value.is_finite() or value < 0:
            raise InvalidRequestError(f"{value} is not a share price.")
    if old_vesting_months is not None and old_vesting_months < 1:
        raise InvalidRequestError("The old grants' vesting period must be at least 1 month.")
    async with uow:
        person = await load_person(uow, terms, employee_id)
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="election.model.view",
                channel=identity.channel,
                subject=employee_id,
            )
        )
        await uow.commit()
    eligible = person.assessment.eligible_grants
    chosen = tuple(sorted(set(prices))) or tuple(sorted({g.grant.exercise_price for g in eligible}))
    strikes = tuple(sorted(set(new_strikes))) or chosen
    grant_day = new_grant_date(terms, business_calendar(terms))
    return ModelResult(
        employee=person.employee,
        grants=eligible,
        prices=chosen,
        new_strikes=strikes,
        new_grant_date=grant_day,
        dates=tuple(sample_dates(grant_day, terms.vesting.months)),
        old_vesting_months=old_vesting_months,
        terms=terms,
    )


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def model_json(m: ModelResult) -> dict[str, Any]:
    total_new = sum(g.new_option_shares for g in m.grants)
    schedules = {
        g.grant.grant_number: vesting_schedule(
            g.new_option_shares, m.new_grant_date, m.terms.vesting
        )
        for g in m.grants
    }
    values = []
    for price in m.prices:
        old = [
            {
                "grant_number": g.grant.grant_number,
                "exercise_price": _money(g.grant.exercise_price),
                "unexercised_shares": g.grant.unexercised_shares,
                "intrinsic_value": _money(
                    intrinsic_value(g.grant.unexercised_shares, g.grant.exercise_price, price)
                ),
            }
            for g in m.grants
        ]
        new = [
            {
                "new_strike": _money(strike),
                "shares": total_new,
                "intrinsic_value": _money(intrinsic_value(total_new, strike, price)),
                "by_grant": [
                    {
                        "grant_number": g.grant.grant_number,
                        "shares": g.new_option_shares,
                        "intrinsic_value": _money(
                            intrinsic_value(g.new_option_shares, strike, price)
                        ),
                    }
                    for g in m.grants
                ],
            }
            for strike in m.new_strikes
        ]
        old_total = sum(
            (
                intrinsic_value(g.grant.unexercised_shares, g.grant.exercise_price, price)
                for g in m.grants
            ),
            Decimal(0),
        )
        values.append(
            {
                "price": _money(price),
                "old_grants": old,
                "old_grants_total": _money(old_total),
                "new_option": new,
            }
        )
    vesting = []
    for day in m.dates:
        row: dict[str, Any] = {
            "date": day.isoformat(),
            "new_option_vested": sum(vested_on(s, day) for s in schedules.values()),
            "new_option_shares": total_new,
        }
        if m.old_vesting_months is None:
            row["old_grants_vested"] = None
        else:
            row["old_grants_vested"] = sum(
                straight_line_vested(
                    g.grant.unexercised_shares, g.grant.grant_date, m.old_vesting_months, day
                )
                for g in m.grants
            )
        row["old_grants_shares"] = sum(g.grant.unexercised_shares for g in m.grants)
        vesting.append(row)
    notes = []
    if m.old_vesting_months is None:
        notes.append(
            "The old grants' vesting schedules are not in HR's roster, so only the new option's "
            "vesting is shown; your option agreements set out the old grants' schedules."
        )
    else:
        notes.append(
            f"Old grants shown vesting in equal monthly parts over {m.old_vesting_months} months "
            "from each grant date, as given; your option agreements govern."
        )
    return {
        "label": "illustration",
        "illustration": illustration_label(m.terms),
        "employee_id": m.employee.employee_id,
        "name": m.employee.name,
        "eligible_grants": [g.grant.grant_number for g in m.grants],
        "new_option_grant_date": m.new_grant_date.isoformat(),
        "new_option_shares": total_new,
        "values": values,
        "vesting": vesting,
        "notes": notes,
    }


def _dollars(value: str) -> str:
    """``"78880.00"`` (the JSON's exact decimal) as ``$78,880.00``."""
    return format_money(Decimal(value))


def _short_date(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day:%b} {day.day}, {day.year}"


def model_reply(m: ModelResult) -> Reply:
    data = model_json(m)
    # One row per share price: the old grants' value, then the new option's at each example
    # exercise price — three short lines rather than a grid of every combination.
    value_rows = tuple(
        (
            f"Share price {_dollars(v['price'])}",
            _dollars(v["old_grants_total"]),
            *(_dollars(n["intrinsic_value"]) for n in v["new_option"]),
        )
        for v in data["values"]
    )
    strikes = (
        [_dollars(n["new_strike"]) for n in data["values"][0]["new_option"]] if m.grants else []
    )
    old_known = m.old_vesting_months is not None
    vest_rows = tuple(
        (
            _short_date(r["date"]),
            f"{r['new_option_vested']:,} of {r['new_option_shares']:,}",
            *((f"{r['old_grants_vested']:,} of {r['old_grants_shares']:,}",) if old_known else ()),
        )
        for r in data["vesting"]
    )
    text = (
        _explanation(m)
        if m.grants
        else "You hold no eligible grants, so there is nothing to illustrate."
    )
    return Reply(
        text=text,
        tables=(
            Table(
                headers=(
                    "Share price",
                    "Old grants' value",
                    *(f"New option at {strike}" for strike in strikes),
                ),
                rows=value_rows,
                title="Intrinsic value (illustration)",
            ),
            Table(
                headers=(
                    "Date",
                    "New option vested",
                    *(("Old grants vested",) if old_known else ()),
                ),
                rows=vest_rows,
                title="Vested shares over time (illustration)",
            ),
        )
        if m.grants
        else (),
        notes=tuple(data["notes"]),
        kind="personal",
        data=data,
    )
