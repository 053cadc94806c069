"""Demo data: the Kemendagri regions and a deterministic NTB data set, loaded in bounded memory.

``await seed(engine, "tiny")`` loads regions (when missing) and the demo rows; ``load_regions`` loads the
hierarchy alone; ``generate`` yields the rows without a database.
"""

from demo.demo import COLUMNS, SIZES, TABLES, Size, generate
from demo.load import SeedError, existing_rows, seed
from demo.regions import load_regions, ntb_year_figures

__all__ = [
    "COLUMNS",
    "SIZES",
    "TABLES",
    "SeedError",
    "Size",
    "existing_rows",
    "generate",
    "load_regions",
    "ntb_year_figures",
    "seed",
]
