"""Today's date, as the service's rules read it: one place, so that a test can move it (and nothing else has to).

Month boundaries are taken in the local time of the reporting offices (WITA, UTC+8): whether a participant
is ACTIVE (domain.participants.status) and which month Monev reports on (domain.monev.periods) turn at the
same midnight. Callers look the function up at call time (``clock.today()``), never bind it at import.
"""

from __future__ import annotations

import datetime as dt

#: The local time of the reporting offices (WITA); month boundaries are taken there.
REPORTING_TZ = dt.timezone(dt.timedelta(hours=8), "WITA")


def today() -> dt.date:
    return dt.datetime.now(REPORTING_TZ).date()
