"""Participant and contribution imports: the API's write functions per row, all-or-nothing by default."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditEvent
from domain.imports.report import ImportResult
from domain.nik import Sex, build_nik
from domain.participants.imports import RowImportOptions, import_contributions, import_participants
from domain.participants.models import Contribution, Participant
from tests.imports.conftest import ImportDB, importer

_serials = itertools.count(8101)
P_HEADER = "nik,nama,tanggal_lahir,jenis_kelamin,segmen,sumber_dana,kode_wilayah,program,upah"
C_HEADER = "nik,jumlah_bulan,jumlah,pembayar,referensi,kode_wilayah_pembayar"


def worker(**overrides: Any) -> dict[str, Any]:
    birth = dt.date(1987, 8, 17)
    values = {
        "nik": build_nik("52.03.01", birth, Sex.M, next(_serials)),
        "nama": "Lalu Sapturi",
        "tanggal_lahir": birth.isoformat(),
        "jenis_kelamin": "L",
        "segmen": "BPU",
        "sumber_dana": "APBD",
        "kode_wilayah": "52.03.01.2001",
        "program": "JKK JKM",
        "upah": "",
    }
    values.update(overrides)
    return values


def table(header: str, rows: list[dict[str, Any]]) -> bytes:
    names = header.split(",")
    return ("\n".join([header] + [",".join(str(r[n]) for n in names) for r in rows]) + "\n").encode()


async def run(db: ImportDB, kind: str, data: bytes, **options: Any) -> tuple[ImportResult, int, int]:
    engine = db.engine()
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            work = import_participants if kind == "participants" else import_contributions
            result = await work(
                session, importer("52.03"), io.BytesIO(data), f"{kind}.csv", RowImportOptions(**options)
            )
            if result.written:
                await session.commit()
            else:
                await session.rollback()
        async with engine.connect() as conn:
            participants = (await conn.execute(select(func.count()).select_from(Participant))).scalar_one()
            payments = (await conn.execute(select(func.count()).select_from(Contribution))).scalar_one()
        return result, int(participants), int(payments)
    finally:
        await engine.dispose()


async def test_participants_all_or_nothing_then_good_rows_then_unchanged(imports_db: ImportDB) -> None:
    good = worker()
    rows = [
        good,
        worker(segmen="XYZ"),
        worker(nik="5203011708870000"),  # serial 0000
        worker(kode_wilayah="52.71.01.1004"),  # outside 52.03
        worker(segmen="PU", sumber_dana="APBD"),  # a wage earner is paid for by the employer
        worker(program="JKK JKM JP"),  # BPU cannot hold JP
        worker(tanggal_lahir="17/13/1987"),
    ]
    header_only, before, _ = await run(imports_db, "participants", table(P_HEADER, []))
    assert [e.code for e in header_only.errors] == ["NO_ROWS"]
    refused, after, _ = await run(imports_db, "participants", table(P_HEADER, rows))
    assert not refused.written
    assert after == before
    codes = {(e.row, e.code) for e in refused.errors}
    assert (3, "INVALID_SEGMENT") in codes
    assert (4, "INVALID_NIK") in codes
    assert (5, "OUT_OF_REGION") in codes
    assert (6, "FUNDING_NOT_ALLOWED") in codes
    assert (7, "PROGRAM_NOT_ALLOWED") in codes
    assert (8, "INVALID_DATE") in codes
    assert refused.counts.rejected == 6

    skipped, after, _ = await run(imports_db, "participants", table(P_HEADER, rows), skip_invalid=True)
    assert skipped.written
    assert (skipped.counts.imported, after) == (1, before + 1)
    again, after_again, _ = await run(imports_db, "participants", table(P_HEADER, [good]))
    assert (again.counts.imported, again.counts.unchanged, after_again) == (0, 1, before + 1)


async def test_contributions_go_through_the_ledger(imports_db: ImportDB) -> None:
    person = worker()
    registered, _, _ = await run(imports_db, "participants", table(P_HEADER, [person]))
    assert registered.counts.imported == 1
    ref = f"APBD-TEST-{person['nik'][-4:]}"
    pay = {"nik": person["nik"], "jumlah_bulan": 3, "jumlah": "50400", "pembayar": "APBD", "referensi": ref,
           "kode_wilayah_pembayar": "52.03"}  # fmt: skip
    bad = [
        {**pay, "nik": build_nik("52.03.01", dt.date(1990, 1, 1), Sex.M, 9999), "referensi": ref + "-X"},
        {**pay, "jumlah": "lima puluh ribu", "referensi": ref + "-Y"},
        {**pay, "jumlah_bulan": 0, "referensi": ref + "-Z"},
    ]
    dry, _, payments = await run(imports_db, "contributions", table(C_HEADER, [pay]), dry_run=True)
    assert (dry.written, dry.counts.imported) == (False, 1)
    refused, _, payments_after = await run(imports_db, "contributions", table(C_HEADER, [pay, *bad]))
    assert not refused.written
    assert payments_after == payments
    assert sorted((e.row, e.code) for e in refused.errors) == [
        (3, "NOT_FOUND"),
        (4, "INVALID_NUMBER"),
        (5, "INVALID_MONTHS"),
    ]
    done, _, payments_done = await run(imports_db, "contributions", table(C_HEADER, [pay]))
    assert (done.written, done.counts.imported, payments_done) == (True, 1, payments + 1)
    engine = imports_db.engine()
    try:
        async with engine.connect() as conn:
            months = (
                await conn.execute(select(Participant.contribution_months).where(Participant.nik == person["nik"]))
            ).scalar_one()
            events = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    finally:
        await engine.dispose()
    assert months == 3  # derived from the ledger, not typed in
    again, _, payments_again = await run(imports_db, "contributions", table(C_HEADER, [pay]))
    assert (again.counts.unchanged, payments_again) == (1, payments + 1)
    reused, _, _ = await run(
        imports_db, "contributions", table(C_HEADER, [{**pay, "jumlah": "16800", "jumlah_bulan": 1}])
    )
    assert [e.code for e in reused.errors] == ["REFERENCE_REUSED"]
    assert events > 0


async def test_a_reference_repeated_in_a_contribution_file_is_refused_at_its_second_row(imports_db: ImportDB) -> None:
    people = [worker(), worker()]
    registered, _, _ = await run(imports_db, "participants", table(P_HEADER, people))
    assert registered.counts.imported == 2
    ref = f"APBD-TWICE-{people[0]['nik'][-4:]}"
    pay = {"jumlah_bulan": 1, "jumlah": "16800", "pembayar": "APBD", "referensi": ref, "kode_wilayah_pembayar": "52.03"}
    rows = [{**pay, "nik": people[0]["nik"]}, {**pay, "nik": people[1]["nik"]}]
    refused, _, before = await run(imports_db, "contributions", table(C_HEADER, rows))
    assert [(e.row, e.column, e.code) for e in refused.errors] == [(3, "referensi", "DUPLICATE_REFERENCE")]
    assert "also used by row 2" in refused.errors[0].message
    assert not refused.written
    skipped, _, after = await run(imports_db, "contributions", table(C_HEADER, rows), skip_invalid=True)
    assert (skipped.counts.imported, skipped.counts.rejected, after) == (1, 1, before + 1)


async def test_the_phone_number_column_is_read_normalised_and_checked(imports_db: ImportDB) -> None:
    """``no_hp`` (or ``phone``) is optional: a number in any usual form is stored as E.164, an empty cell as no
    number, and a bad one is refused on its row and column like any other cell."""
    with_phone = f"{P_HEADER},no_hp"
    ok = [worker(no_hp="0812-3456-7890"), worker(no_hp="+62 857 1111 2222"), worker(no_hp="")]
    bad = [worker(no_hp="021 555 1234"), worker(no_hp="0812"), worker(no_hp="9" * 500)]
    refused, before, _ = await run(imports_db, "participants", table(with_phone, ok + bad))
    assert not refused.written
    assert [(e.row, e.column, e.code) for e in refused.errors] == [
        (5, "no_hp", "INVALID_PHONE_NUMBER"),
        (6, "no_hp", "INVALID_PHONE_NUMBER"),
        (7, "no_hp", "INVALID_PHONE_NUMBER"),
    ]
    written, after, _ = await run(imports_db, "participants", table(with_phone, ok))
    assert written.written
    assert after == before + 3
    engine = imports_db.engine()
    try:
        async with engine.connect() as conn:
            stored = dict(
                (
                    await conn.execute(
                        select(Participant.nik, Participant.phone_number).where(
                            Participant.nik.in_([r["nik"] for r in ok])
                        )
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    assert [stored[r["nik"]] for r in ok] == ["+6281234567890", "+6285711112222", None]
    english = table(f"{P_HEADER},phone", [worker(phone="628123456789")])
    assert (await run(imports_db, "participants", english))[0].written


async def test_rows_read_beside_a_write_are_reported_in_the_order_of_the_file_chunks(
    imports_db: ImportDB, monkeypatch: Any
) -> None:
    """Chunks of two, the reader yielding at every row: the next chunk's rows are read while the chunk before is
    written, yet a row's problem is reported after the refusals of the chunk before it, as when the two
    alternated (domain.participants.imports._read_beside_writes)."""
    monkeypatch.setattr("domain.participants.imports.CHUNK", 2)
    monkeypatch.setattr("domain.participants.imports._ROWS_PER_YIELD", 1)
    rows = [
        worker(),  # row 2
        worker(kode_wilayah="52.71.01.1004"),  # row 3: refused by the write of the first chunk
        worker(segmen="XYZ"),  # row 4: refused while it is read, beside that write
        worker(),  # row 5
        worker(kode_wilayah="52.71.01.1004"),  # row 6: refused by the write of the second chunk
        worker(tanggal_lahir="17/13/1987"),  # row 7: refused while it is read
    ]
    refused, _, _ = await run(imports_db, "participants", table(P_HEADER, rows))
    assert [(e.row, e.code) for e in refused.errors] == [
        (3, "OUT_OF_REGION"),
        (4, "INVALID_SEGMENT"),
        (6, "OUT_OF_REGION"),
        (7, "INVALID_DATE"),
    ]
    assert (refused.counts.rejected, refused.written) == (4, False)


async def test_a_chunk_checked_beside_the_write_before_it_counts_that_chunks_niks_and_numbers_as_taken(
    imports_db: ImportDB, monkeypatch: Any
) -> None:
    """Chunks of two: on PostgreSQL each chunk is checked while the chunk before is still being written, so the
    table does not show that chunk's rows yet. A NIK of the chunk before is still counted unchanged, and a
    membership number it took is not drawn again (the draws here repeat the chunk before's numbers first: taken
    twice, the unique index would refuse the write)."""
    monkeypatch.setattr("domain.participants.imports.CHUNK", 2)
    draws = iter(["26000000001", "26000000002", "26000000001", "26000000002", *(f"2600000001{n}" for n in range(10))])
    monkeypatch.setattr("domain.participants.bulk_registration.membership_number_candidate", lambda today: next(draws))
    first, second = worker(), worker()
    rows = [first, second, first, worker(), worker(), worker()]  # row 4: the NIK of row 2, one chunk later
    result, _, _ = await run(imports_db, "participants", table(P_HEADER, rows))
    assert result.written
    assert not result.errors
    assert (result.counts.imported, result.counts.unchanged) == (5, 1)
    engine = imports_db.engine()
    try:
        async with engine.connect() as conn:
            niks = [r["nik"] for r in rows]
            stored = (
                await conn.execute(
                    select(Participant.id, Participant.membership_number).where(Participant.nik.in_(niks))
                )
            ).all()
            events = (
                await conn.execute(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(
                        AuditEvent.action == "participant.register",
                        AuditEvent.entity_id.in_([str(pid) for pid, _ in stored]),
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    numbers = {number for _, number in stored}
    assert len(stored) == 5
    assert len(numbers) == 5
    assert numbers >= {"26000000001", "26000000002"}
    assert events == 5
