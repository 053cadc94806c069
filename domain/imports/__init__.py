"""Reading registry files (CSV and XLSX) row by row, matching their headers, and reporting bad rows.

Nothing here knows what a beneficiary or a participant is: a family's import module (for example
:mod:`domain.beneficiaries.imports`) declares its columns, validates each row with its own rules and writes.
"""
