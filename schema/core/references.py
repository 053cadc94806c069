"""Entity stubs: types another agency's subgraph owns, which our types point at by key only.

Our database holds the key and nothing else; in a supergraph where the owning subgraph resolves the type,
the router fills in its other fields. Without that subgraph the field still answers with the key.
``resolvable: false`` tells the router never to ask this subgraph for these entities.
"""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet


@strawberry.federation.type(
    name="Company",
    keys=[Key(fields=FieldSet("bpjsRegistrationNumber"), resolvable=False)],
    description="A company in the manpower offices' compulsory workforce reporting (WLKP). Owned by the "
    "manpower office's subgraph; this one only knows its BPJS Ketenagakerjaan registration number.",
)
class CompanyReference:
    bpjs_registration_number: str = strawberry.field(
        description="The employer's BPJS Ketenagakerjaan registration number, the key both agencies hold."
    )


__all__ = ["CompanyReference"]
