"""The SQL that keeps the Monev rollups (domain.monev.rollup_tables): one definition per family, two dialects.

Each family is written once as "what these base rows add to the rollups": a SELECT over a *relation* of rows
(a base table, or the rows a statement changed). The same text serves three purposes:

- the rebuild: the family over the whole base tables, inserted into empty rollups;
- the triggers: the family over the rows a statement removed, subtracted, and over the rows it wrote, added
  (``INSERT ... ON CONFLICT DO UPDATE`` adds to the existing sums);
- nothing else: readers only read the rollup tables.

The linear families (participants, programmes, budget) depend on each row alone, so "subtract the old rows,
add the new ones" is exact. The extreme-poor family counts distinct NIKs, which is not linear: for it the
triggers recount the NIKs a statement touched, before (the table as it is now, with the changed rows put back
as they were) and after (the table as it is now).

PostgreSQL runs statement-level triggers with transition tables (``old_rows``/``new_rows``), so a set-based
UPDATE of many participants (the ledger's recount) is a few set-based statements. SQLite has only row-level
triggers; there the relations are the one row ``OLD``/``NEW``, and since SQLite fires them right after each
row the same before/after reasoning holds. Every trigger does nothing while ``monev_rollup_state.maintained``
is false (bulk loads; see domain.monev.rollups).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Columns of each base table the families read.
P_COLS = (
    "id",
    "nik",
    "region_code",
    "province_code",
    "regency_code",
    "district_code",
    "segment",
    "funding_source",
    "registered_at",
    "paid_through",
    "died_on",
    "retired_on",
)
PP_COLS = ("participant_id", "program", "since")
K_COLS = ("participant_id", "first_month", "last_month", "months", "payer", "amount")
B_COLS = (
    "id",
    "nik",
    "extreme_poor",
    "snapshot_date",
    "participant_id",
    "province_code",
    "regency_code",
    "district_code",
)

#: The participant columns each family reads, beside id and nik (a participant's NIK never changes while
#: anything is linked to it): an UPDATE that changes none of a family's columns leaves that family's rollup as
#: it was, so its trigger counts only the rows whose columns moved. The ledger's recount moves the paid-through
#: month and never the area, so the budget family (placed by the area only) has nothing to do for it.
_P_AREA = ("province_code", "regency_code", "district_code")
_P_ACTIVE = ("registered_at", "paid_through", "died_on", "retired_on")
P_FAMILY_COLS = {
    "participants": (*_P_AREA, "segment", "funding_source", *_P_ACTIVE),
    "programs": (*_P_AREA, *_P_ACTIVE),
    "budget": _P_AREA,
    "poor": _P_ACTIVE,
}
#: The participant columns any figure depends on: an UPDATE that changes none of them changes no rollup.
P_FIGURE_COLS = tuple(dict.fromkeys(c for cols in P_FAMILY_COLS.values() for c in cols))


@dataclass(frozen=True)
class Dialect:
    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def ts_month(self, ts: str) -> str:
        """Month number (WITA) of a UTC timestamp: registered_at < month end <=> ts_month <= month."""
        if self.postgres:
            local = f"(({ts} AT TIME ZONE 'UTC') + INTERVAL '8 hours')"
            return f"CAST(date_part('year', {local}) * 12 + date_part('month', {local}) - 1 AS INTEGER)"
        return (
            f"(CAST(strftime('%Y', {ts}, '+8 hours') AS INTEGER) * 12"
            f" + CAST(strftime('%m', {ts}, '+8 hours') AS INTEGER) - 1)"
        )

    def date_month(self, day: str) -> str:
        """Month number of a date: day <= last day of month <=> date_month <= month."""
        if self.postgres:
            return f"CAST(date_part('year', {day}) * 12 + date_part('month', {day}) - 1 AS INTEGER)"
        return f"(CAST(strftime('%Y', {day}) AS INTEGER) * 12 + CAST(strftime('%m', {day}) AS INTEGER) - 1)"

    def paid_month(self, day: str) -> str:
        """The last month whose last day is on or before `day` (paid_through >= last day <=> month <= this)."""
        if self.postgres:
            return f"CAST(date_part('year', {day} + 1) * 12 + date_part('month', {day} + 1) - 2 AS INTEGER)"
        return (
            f"(CAST(strftime('%Y', {day}, '+1 day') AS INTEGER) * 12"
            f" + CAST(strftime('%m', {day}, '+1 day') AS INTEGER) - 2)"
        )

    def active_month(self, p: str = "p") -> str:
        """The last month a participant is active in (NULL: none): paid through its last day, alive and not
        retired at it. The month of a death or retirement is not active (the person was not covered at its end);
        the base-table rendering of the same rule is ``domain.monev.figures.active_at``."""
        paid = self.paid_month(f"{p}.paid_through")
        ends = [paid]
        for column in (f"{p}.died_on", f"{p}.retired_on"):
            ends.append(f"COALESCE({self.date_month(column)} - 1, {paid})")
        least = f"LEAST({', '.join(ends)})" if self.postgres else f"min({', '.join(ends)})"
        # PostgreSQL's LEAST skips NULLs: a participant who never paid stays NULL (never active) on both.
        return f"(CASE WHEN {p}.paid_through IS NULL THEN NULL ELSE {least} END)"

    def greatest(self, a: str, b: str) -> str:
        # Both arguments are never NULL where this is used (PostgreSQL's GREATEST would skip a NULL).
        return f"GREATEST({a}, {b})" if self.postgres else f"max({a}, {b})"


# --- the families: SELECTs of rollup rows from relations ------------------------------------------------------

_AREA = "p.province_code, p.regency_code, p.district_code"
_LEVEL_ROWS = "(SELECT 'PROVINCE' AS level UNION ALL SELECT 'REGENCY' UNION ALL SELECT 'DISTRICT')"


def _every_level(rows: str, keys: tuple[str, ...], sums: tuple[str, ...]) -> str:
    """The changes in `rows` (each placed at its participant's district) summed per area at the district, the
    regency and the province: a province's month is then a sum over its own few rows, not every district's."""
    k = ", ".join(keys)
    return f"""
        SELECT region_code, province_code, regency_code, district_code, level, month, {k},
               {", ".join(f"SUM({m}) AS {m}" for m in sums)}
        FROM (
            SELECT CASE l.level WHEN 'PROVINCE' THEN c.province_code WHEN 'REGENCY' THEN c.regency_code
                                ELSE c.district_code END AS region_code,
                   c.province_code,
                   CASE WHEN l.level <> 'PROVINCE' THEN c.regency_code END AS regency_code,
                   CASE WHEN l.level = 'DISTRICT' THEN c.district_code END AS district_code,
                   l.level, c.month, {", ".join(f"c.{c}" for c in (*keys, *sums))}
            FROM ({rows}) c CROSS JOIN {_LEVEL_ROWS} l
        ) x
        WHERE region_code IS NOT NULL
        GROUP BY region_code, province_code, regency_code, district_code, level, month, {k}"""


def participants(d: Dialect, p_rel: str) -> str:
    """Registered and active changes of the participants in `p_rel` (active up to ``Dialect.active_month``)."""
    reg, paid = d.ts_month("p.registered_at"), d.active_month()
    rows = f"""
            SELECT {_AREA}, {reg} AS month, p.segment, p.funding_source,
                   1 AS registered, CASE WHEN {paid} >= {reg} THEN 1 ELSE 0 END AS active
            FROM {p_rel} p
            UNION ALL
            SELECT {_AREA}, {paid} + 1 AS month, p.segment, p.funding_source, 0 AS registered, -1 AS active
            FROM {p_rel} p WHERE {paid} >= {reg}"""
    return _every_level(rows, ("segment", "funding_source"), ("registered", "active"))


def programs(d: Dialect, p_rel: str, pp_rel: str) -> str:
    """Active changes of the programmes in `pp_rel` of the participants in `p_rel`: active from the later of
    registration and the programme's start, up to the paid-through month."""
    start = d.greatest(d.ts_month("p.registered_at"), d.date_month("pp.since"))
    paid = d.active_month()
    rows = f"""
            SELECT {_AREA}, {start} AS month, pp.program, 1 AS active
            FROM {pp_rel} pp JOIN {p_rel} p ON p.id = pp.participant_id WHERE {paid} >= {start}
            UNION ALL
            SELECT {_AREA}, {paid} + 1 AS month, pp.program, -1 AS active
            FROM {pp_rel} pp JOIN {p_rel} p ON p.id = pp.participant_id WHERE {paid} >= {start}"""
    return _every_level(rows, ("program",), ("active",))


def budget(d: Dialect, p_rel: str, k_rel: str) -> str:
    """Changes of the amount paid for each month, from the payments in `k_rel` by the participants in `p_rel`
    (placed where they are): a payment of n months for months f..l adds amount / n at f and takes it off at
    l + 1. Each share is rounded to 10 decimals before it is summed, so taking a payment off later removes
    exactly what adding it put in."""
    share = "ROUND(CAST(k.amount AS NUMERIC) / k.months, 10)" if d.postgres else "ROUND(k.amount * 1.0 / k.months, 10)"
    rows = f"""
            SELECT {_AREA}, k.first_month AS month, k.payer, {share} AS amount
            FROM {k_rel} k JOIN {p_rel} p ON p.id = k.participant_id
            UNION ALL
            SELECT {_AREA}, k.last_month + 1 AS month, k.payer, -{share} AS amount
            FROM {k_rel} k JOIN {p_rel} p ON p.id = k.participant_id"""
    return _every_level(rows, ("payer",), ("amount",))


#: (level, the area column, the placement columns of a row of that level, the GROUP BY placing it).
_LEVELS = (
    ("PROVINCE", "b.province_code", "b.province_code AS pc, NULL AS rc, NULL AS dc", "b.province_code"),
    ("REGENCY", "b.regency_code", "b.province_code, b.regency_code, NULL", "b.province_code, b.regency_code"),
    (
        "DISTRICT",
        "b.district_code",
        "b.province_code, b.regency_code, b.district_code",
        "b.province_code, b.regency_code, b.district_code",
    ),
)


def poor(d: Dialect, b_rel: str, p_rel: str) -> str:
    """Changes of distinct extreme-poor NIKs per area at every level, over the beneficiary rows in `b_rel`
    (all rows of each NIK it holds) linked to the participants in `p_rel`.

    Per (area, NIK): counted from its first snapshot month; enrolled from the first month in which one of its
    rows is snapshotted and its participant registered; active from then up to the participant's paid-through
    month (a NIK's linked rows all point at the one participant with that NIK: the link's foreign key is
    (participant_id, nik)).
    """
    snap = d.date_month("b.snapshot_date")
    linked = d.greatest(snap, d.ts_month("p.registered_at"))
    per_nik = " UNION ALL ".join(
        f"""
            SELECT {area} AS region_code, {cols}, '{level}' AS level, b.nik,
                   MIN({snap}) AS t_total,
                   MIN(CASE WHEN p.id IS NOT NULL THEN {linked} END) AS t_enrolled,
                   MAX({d.active_month()}) AS t_paid
            FROM {b_rel} b LEFT JOIN {p_rel} p ON p.id = b.participant_id
            WHERE b.extreme_poor AND {area} IS NOT NULL
            GROUP BY {group}, b.nik"""
        for level, area, cols, group in _LEVELS
    )
    keys = "region_code, pc, rc, dc, level"
    # The per-NIK rows are read three times. PostgreSQL computes them once (a MATERIALIZED CTE: the triggers'
    # relations are read up to eighteen times otherwise); SQLite has no CTE in a trigger's body, so there the
    # same SELECT stands in each place.
    with_nik, nik = (f"WITH poor_niks AS MATERIALIZED ({per_nik})", "poor_niks") if d.postgres else ("", f"({per_nik})")
    return f"""{with_nik}
        SELECT region_code, pc AS province_code, rc AS regency_code, dc AS district_code, level, month,
               SUM(total) AS total, SUM(enrolled) AS enrolled, SUM(active) AS active
        FROM (
            SELECT {keys}, t_total AS month, 1 AS total, 0 AS enrolled, 0 AS active FROM {nik} n
            UNION ALL
            SELECT {keys}, t_enrolled AS month, 0 AS total, 1 AS enrolled,
                   CASE WHEN t_paid >= t_enrolled THEN 1 ELSE 0 END AS active
            FROM {nik} n WHERE t_enrolled IS NOT NULL
            UNION ALL
            SELECT {keys}, t_paid + 1 AS month, 0 AS total, 0 AS enrolled, -1 AS active
            FROM {nik} n WHERE t_enrolled IS NOT NULL AND t_paid >= t_enrolled
        ) c
        GROUP BY {keys}, month"""


# --- writing rollup rows ---------------------------------------------------------------------------------------

_UPSERT = {
    "monev_participant_months": (("level", "segment", "funding_source"), ("registered", "active")),
    "monev_program_months": (("level", "program"), ("active",)),
    "monev_budget_months": (("level", "payer"), ("amount",)),
    "monev_poor_months": (("level",), ("total", "enrolled", "active")),
}
#: Columns of the key that are not in the primary key (carried along, functionally dependent on it).
_NOT_IN_KEY = {"level"}


def _signed(measures: tuple[str, ...], sign: int) -> str:
    minus = "-" if sign < 0 else ""
    return ", ".join(f"{minus}{m} AS {m}" for m in measures)


def add(table: str, *parts: tuple[str, int]) -> str:
    """Add to the rollup `table` the rows of each SELECT in `parts`, times its sign (1 or -1).

    The parts are netted first: a statement's old rows (-1) and new rows (1) mostly cancel (a payment moves
    the paid-through month, not the registration), and only the groups whose sums changed are written.
    """
    keys, measures = _UPSERT[table]
    placed = ["region_code", "province_code", "regency_code", "district_code", "month", *keys]
    conflict = ["region_code", "month", *(k for k in keys if k not in _NOT_IN_KEY)]
    if len(parts) == 1 and parts[0][1] == 1:
        rows = parts[0][0]  # the rebuild: nothing to net
    else:
        union = " UNION ALL ".join(
            f"SELECT {', '.join(placed)}, {_signed(measures, sign)} FROM ({select}) part{i}"
            for i, (select, sign) in enumerate(parts)
        )
        rows = (
            f"SELECT {', '.join(placed)}, {', '.join(f'SUM({m}) AS {m}' for m in measures)} FROM ({union}) parts"
            f" GROUP BY {', '.join(placed)} HAVING {' OR '.join(f'SUM({m}) <> 0' for m in measures)}"
        )
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
    return f"""
        INSERT INTO {table} ({", ".join([*placed, *measures])})
        SELECT {", ".join(f"s.{c}" for c in [*placed, *measures])} FROM ({rows}) s WHERE true
        ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {updates}"""


# --- the triggers ------------------------------------------------------------------------------------------------

PM, PRM, BM, POOR = "monev_participant_months", "monev_program_months", "monev_budget_months", "monev_poor_months"
ROLLUPS = (PM, PRM, BM, POOR)
_EVENTS = ("INSERT", "UPDATE", "DELETE")
_TABLE_COLS = {
    "participants": P_COLS,
    "participant_programs": PP_COLS,
    "contributions": K_COLS,
    "poverty_beneficiaries": B_COLS,
}
_MAINTAINED = "(SELECT maintained FROM monev_rollup_state WHERE id = 1)"


def _cols(cols: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in cols)


def _poor_statements(d: Dialect, table: str, old: str, new: str) -> list[str]:
    """Recount the NIKs the changed rows carry: before (now, with the changed rows as they were) and after."""
    niks = f"(SELECT nik FROM {old} o UNION SELECT nik FROM {new} n)"
    if table == "poverty_beneficiaries":
        # PostgreSQL: the touched NIKs and the rows of them computed once (MATERIALIZED CTEs), where the two
        # families below read them six times. SQLite (no CTE in a trigger): the same SELECTs in each place.
        named = d.postgres
        touched = "(SELECT nik FROM poor_touched)" if named else niks
        b_now = f"(SELECT {_cols(B_COLS)} FROM poverty_beneficiaries WHERE nik IN {touched})"
        p_now = f"(SELECT {_cols(P_COLS)} FROM participants WHERE nik IN {touched})"
        b_before = (
            f"(SELECT {_cols(B_COLS)} FROM poverty_beneficiaries b WHERE nik IN {touched}"
            f" AND NOT EXISTS (SELECT 1 FROM {new} n WHERE n.id = b.id)"
            f" UNION ALL SELECT {_cols(B_COLS)} FROM {old} o)"
        )
        if not named:
            return [add(POOR, (poor(d, b_before, p_now), -1), (poor(d, b_now, p_now), 1))]
        defs = {"poor_touched": niks, "poor_b_now": b_now, "poor_p_now": p_now}
        statement = add(POOR, (poor(d, b_before, "poor_p_now"), -1), (poor(d, "poor_b_now", "poor_p_now"), 1))
        return ["WITH " + ", ".join(f"{name} AS MATERIALIZED {sql}" for name, sql in defs.items()) + statement]
    b_now = f"(SELECT {_cols(B_COLS)} FROM poverty_beneficiaries WHERE nik IN {niks})"
    # A participant changed: the only participant a row of its NIK can link to is this one (the link's foreign
    # key is (participant_id, nik) and NIKs are unique), so it is its old row before and its new row after.
    return [add(POOR, (poor(d, b_now, old), -1), (poor(d, b_now, new), 1))]


def _lock_participants(table: str, relations: list[str]) -> str:
    """Lock the participants a change of `table` hangs on (FOR SHARE) before it is counted.

    The change is counted with the participant as committed when the trigger reads it. A concurrent update of
    that participant (a payment, a move) counts *its* change with this table as it was before ours, so without
    the lock the two would each miss the other's. FOR SHARE makes the participant's update wait for our commit,
    or our trigger wait for its commit and then read it (each statement of a trigger takes a fresh snapshot
    under READ COMMITTED). SQLite has one writer at a time: nothing to lock.
    """
    column = "nik" if table == "poverty_beneficiaries" else "participant_id"
    key = "nik" if table == "poverty_beneficiaries" else "id"
    wanted = " UNION ".join(f"SELECT {column} FROM {rel} r{i}" for i, rel in enumerate(relations))
    return f"SELECT 1 FROM participants WHERE {key} IN ({wanted}) ORDER BY id FOR SHARE"


#: The rows a statement removed or wrote: one relation, or (a participants UPDATE) one per family — the rows
#: whose columns that family reads changed (:data:`P_FAMILY_COLS`).
Rows = str | dict[str, str]


def _family(rows: Rows, family: str) -> str:
    return rows if isinstance(rows, str) else rows[family]


def statements(d: Dialect, table: str, event: str, old: Rows | None, new: Rows | None) -> list[str]:
    """What a statement on `table` does to the rollups, given the rows it removed (`old`) and wrote (`new`)."""
    out: list[str] = []
    changes = [(rel, sign) for rel, sign in ((old, -1), (new, 1)) if rel is not None]
    if d.postgres and table != "participants":
        out.append(_lock_participants(table, [_family(rel, "") for rel, _ in changes]))
    if table == "participants":
        out.append(add(PM, *((participants(d, _family(rel, "participants")), sign) for rel, sign in changes)))
        # A participant's insert: no programme or payment can name it yet (their foreign keys name a participant
        # that exists, and its id is new), so those two families have nothing to count. Its delete: its
        # programmes are taken off by the BEFORE DELETE trigger.
        if event == "UPDATE":
            out.append(
                add(
                    PRM,
                    *((programs(d, _family(rel, "programs"), "participant_programs"), sign) for rel, sign in changes),
                )
            )
        if event != "INSERT":
            out.append(add(BM, *((budget(d, _family(rel, "budget"), "contributions"), sign) for rel, sign in changes)))
    elif table == "participant_programs":
        out.append(add(PRM, *((programs(d, "participants", _family(rel, "")), sign) for rel, sign in changes)))
    elif table == "contributions":
        out.append(add(BM, *((budget(d, "participants", _family(rel, "")), sign) for rel, sign in changes)))
    if table == "poverty_beneficiaries" or (table == "participants" and event == "UPDATE"):
        # A participant's insert cannot change a NIK's figures (nothing is linked to it yet), nor can its delete
        # (the link's foreign key forbids deleting a linked participant).
        cols = _TABLE_COLS[table]
        o, n = (None if rel is None else _family(rel, "poor") for rel in (old, new))
        empty = f"(SELECT {_cols(cols)} FROM {o or n} x WHERE 1 = 0)"
        out.extend(_poor_statements(d, table, o or empty, n or empty))
    return out


def _sqlite_row(cols: tuple[str, ...], which: str, where: str = "") -> str:
    return "(SELECT " + ", ".join(f"{which}.{c} AS {c}" for c in cols) + (f" WHERE {where}" if where else "") + ")"


def _moved(cols: tuple[str, ...], o: str, n: str, *, postgres: bool) -> str:
    """The condition that one of `cols` differs between the rows `o` and `n` (NULLs compare equal)."""
    if postgres:
        return f"({_cols(cols, o + '.')}) IS DISTINCT FROM ({_cols(cols, n + '.')})"
    return "(" + " OR ".join(f"{o}.{c} IS NOT {n}.{c}" for c in cols) + ")"


def _counted(family: str, o: str, n: str, *, postgres: bool) -> str:
    """The condition on a participant's old row `o` and new row `n` under which an UPDATE changes what
    `family` counts: a column it reads changed, and for the extreme-poor family a beneficiary row is linked
    to the participant (an unlinked row of its NIK is counted the same before and after: the link, by
    (participant_id, nik), is what places a participant in that family, and forbids changing a linked NIK)."""
    moved = _moved(P_FAMILY_COLS[family], o, n, postgres=postgres)
    if family == "poor":
        moved += f" AND EXISTS (SELECT 1 FROM poverty_beneficiaries lb WHERE lb.participant_id = {n}.id)"
    return moved


def _pg_participant_updates() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """A participants UPDATE's rows per family (old, new), as named relations, and their definitions.

    Only the participants whose figures in that family can change (a name correction changes no rollup, a
    payment's recount no budget). Each is computed once per statement (a MATERIALIZED CTE): a family's SELECT
    reads its relation up to eighteen times."""
    cols = _TABLE_COLS["participants"]
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    defs: dict[str, str] = {}
    for family in P_FAMILY_COLS:
        counted = _counted(family, "o", "n", postgres=True)
        ids = f"SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {counted}"
        for which, names in (("old", old), ("new", new)):
            names[family] = f"{which}_{family}"
            defs[names[family]] = f"SELECT {_cols(cols)} FROM {which}_rows WHERE id IN ({ids})"
    return old, new, defs


def _with(defs: dict[str, str], statement: str) -> str:
    """`statement` with the named relations it reads defined before it, each evaluated once."""
    used = [name for name in defs if re.search(rf"\b{name}\b", statement)]
    if not used:
        return statement
    return "WITH " + ", ".join(f"{name} AS MATERIALIZED ({defs[name]})" for name in used) + statement


def _pg_trigger(table: str, event: str) -> list[str]:
    """One statement-level trigger (and its function) over the transition tables of `event` on `table`."""
    d, cols, name = Dialect("postgresql"), _TABLE_COLS[table], f"monev_{table}_{event.lower()}"
    old: Rows | None = None
    new: Rows | None = None
    defs: dict[str, str] = {}
    if table == "participants" and event == "UPDATE":
        old, new, defs = _pg_participant_updates()
    else:
        old = f"(SELECT {_cols(cols)} FROM old_rows)" if event != "INSERT" else None
        new = f"(SELECT {_cols(cols)} FROM new_rows)" if event != "DELETE" else None
    transition = [
        *(["OLD TABLE AS old_rows"] if event != "INSERT" else []),
        *(["NEW TABLE AS new_rows"] if event != "DELETE" else []),
    ]
    body = [_with(defs, statement) for statement in statements(d, table, event, old, new)]
    return [
        _pg_function(name, body, "NULL", rows="old_rows" if event == "DELETE" else "new_rows"),
        f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {' '.join(transition)}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
    ]


def _sqlite_trigger(table: str, event: str) -> str:
    """One row-level trigger: the relations are the row itself, OLD and NEW."""
    d, cols, name = Dialect("sqlite"), _TABLE_COLS[table], f"monev_{table}_{event.lower()}"
    old: Rows | None = _sqlite_row(cols, "OLD") if event != "INSERT" else None
    new: Rows | None = _sqlite_row(cols, "NEW") if event != "DELETE" else None
    when, of = _MAINTAINED, ""
    if table == "participants" and event == "UPDATE":
        # Only the columns the figures read (a name correction changes no rollup), and per family the row only
        # when a column it reads changed (empty otherwise: a payment's recount places no budget).
        of = f" OF {_cols(P_FIGURE_COLS)}"
        when += f" AND {_moved(P_FIGURE_COLS, 'OLD', 'NEW', postgres=False)}"
        old, new = (
            {f: _sqlite_row(cols, which, _counted(f, "OLD", "NEW", postgres=False)) for f in P_FAMILY_COLS}
            for which in ("OLD", "NEW")
        )
    body = "".join(f"{s};\n" for s in statements(d, table, event, old, new))
    return f"CREATE TRIGGER {name} AFTER {event}{of} ON {table} WHEN {when} BEGIN\n{body}END"


def create_triggers(d: Dialect) -> list[str]:
    """DDL of every rollup trigger for dialect `d` (run after the tables exist)."""
    ddl: list[str] = []
    for table in _TABLE_COLS:
        for event in _EVENTS:
            ddl.extend(_pg_trigger(table, event) if d.postgres else [_sqlite_trigger(table, event)])
    # A deleted participant's programmes are taken off while both are still there: the foreign key's cascade
    # deletes the programmes after the participant is gone, when they can no longer be placed.
    name = "monev_participants_delete_programs"
    body = add(PRM, (programs(d, _sqlite_row(P_COLS, "OLD"), "participant_programs"), -1))
    if d.postgres:
        # One row at a time (OLD is a PL/pgSQL variable, which EXECUTE could not see): a static plan is right.
        ddl.append(_pg_function(name, [body], "OLD"))
        ddl.append(f"CREATE TRIGGER {name} BEFORE DELETE ON participants FOR EACH ROW EXECUTE FUNCTION {name}()")
    else:
        ddl.append(f"CREATE TRIGGER {name} BEFORE DELETE ON participants WHEN {_MAINTAINED} BEGIN\n{body};\nEND")
    return ddl


def _pg_function(name: str, statements: list[str], returns: str, *, rows: str | None = None) -> str:
    """A trigger function running `statements` while the rollups are maintained.

    `rows` (a transition table): a statement that changed more than one row runs each of `statements` with
    EXECUTE, planned for the transition tables at hand. PL/pgSQL otherwise keeps the plan made at the first
    call of the session, sized for the transition tables *of that call*: a plan made for a one-row correction,
    reused for the ledger's thousand-row recount, ran orders of magnitude longer. A one-row change (most
    writes) keeps the cached plan: planning these statements afresh would cost it more than the work.
    ``jit = off``: the planner's estimates for these statements are high enough to trigger JIT compilation,
    which costs far more than the few milliseconds of work (figures: bench/README.md "Figures behind the
    code"). ``random_page_cost = 1.1``: the statements look up a thousand keys of a set-based write in tables
    that are in memory; at the default (4) the planner read the whole participants table for them instead of
    its NIK index, once per family and level — a list enrolment's chunk got slower as the table grew (bench/
    README.md, "List enrolment").
    """
    # A SELECT run for its locks only: PL/pgSQL wants PERFORM for a query whose rows it does not keep.
    static = ";\n        ".join(f"PERFORM {s[len('SELECT ') :]}" if s.startswith("SELECT ") else s for s in statements)
    if rows is None:
        body = static
    else:
        dynamic = ";\n        ".join(f"EXECUTE $sql${s}$sql$" for s in statements)
        body = f"""IF (SELECT count(*) FROM (SELECT 1 FROM {rows} LIMIT 2) r) < 2 THEN
        {static};
    ELSE
        {dynamic};
    END IF"""
    settings = "SET jit = off SET random_page_cost = 1.1"
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql {settings} AS $fn$
BEGIN
    IF COALESCE({_MAINTAINED}, false) THEN
        {body};
    END IF;
    RETURN {returns};
END
$fn$"""


def drop_triggers(d: Dialect) -> list[str]:
    names = [f"monev_{t}_{e.lower()}" for t in _TABLE_COLS for e in _EVENTS]
    pairs = [*((n, t) for n, t in zip(names, (t for t in _TABLE_COLS for _ in _EVENTS), strict=True))]
    pairs.append(("monev_participants_delete_programs", "participants"))
    if d.postgres:
        return [s for n, t in pairs for s in (f"DROP TRIGGER IF EXISTS {n} ON {t}", f"DROP FUNCTION IF EXISTS {n}()")]
    return [f"DROP TRIGGER IF EXISTS {n}" for n, _ in pairs]


def rebuild(d: Dialect) -> list[str]:
    """Recount every rollup from the base tables (the caller empties them first and holds the lock)."""
    return [
        add(PM, (participants(d, "participants"), 1)),
        add(PRM, (programs(d, "participants", "participant_programs"), 1)),
        add(BM, (budget(d, "participants", "contributions"), 1)),
        add(POOR, (poor(d, "poverty_beneficiaries", "participants"), 1)),
    ]


def measures(table: str) -> tuple[str, ...]:
    """The summed columns of a rollup table (a row whose measures are all zero says nothing)."""
    return _UPSERT[table][1]
