"""A statement compiled to SQL text once, run again with only its per-request values bound.

Executing a Core statement costs SQLAlchemy a walk of the whole expression to compute its cache key, on
every execution; for a JSON statement of a hundred-odd elements that walk, and building the expression in
the first place, cost more CPU than the rest of the request. So the compiled path builds a statement once
per (plan, principal shape, limits, filter structure), executes it through SQLAlchemy that first time (the
test suite's scoping guard sees it there), keeps the SQL text SQLAlchemy compiled, and from then on sends
that text with the values of the request: the values of the *varying* bind parameters (the lookup key, the
filter's values, the page's keyset and limit) in their positions, every other parameter as compiled.

If a varying parameter cannot be found in the compiled statement (SQLAlchemy copied it), or one of them
is an expanding ``IN`` list, :func:`compile_text` returns None and the statement is simply executed as Core
each time: slower, never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter
from sqlalchemy.engine import Compiled, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

log = logging.getLogger("jamsos.compiled")


@dataclass(frozen=True, slots=True)
class CompiledText:
    """SQL text with positional parameters, and where each parameter's value comes from."""

    sql: str
    #: Per position: (index of the varying parameter, its bind processor) or (-1, the processed constant).
    slots: tuple[tuple[int, Any], ...]

    def parameters(self, values: Sequence[Any]) -> tuple[Any, ...]:
        result = []
        for index, fixed in self.slots:
            if index < 0:
                result.append(fixed)
            else:
                value = values[index]
                result.append(fixed(value) if fixed is not None and value is not None else value)
        return tuple(result)


def compile_text(
    statement: Any, dialect: Dialect, varying: Sequence[BindParameter[Any]], ran: Compiled | None = None
) -> CompiledText | None:
    """`statement` as text for `dialect`, its `varying` parameters left to bind per request (or None).

    `ran` is the form SQLAlchemy compiled `statement` to when it ran it. Its text, with the parameters it
    renders only when it runs (a constant ``IN`` list) rendered as :meth:`SQLCompiler.construct_expanded_state`
    renders them, is what compiling `statement` again here would give: taken when its parameters are
    `statement`'s own (SQLAlchemy compiled it for this statement, not for an earlier one of the same
    shape), it saves a second compilation of a statement of a hundred-odd elements.
    """
    if any(bind.expanding for bind in varying):
        return None
    if isinstance(ran, SQLCompiler) and ran.dialect is dialect and not ran.literal_execute_params:
        try:
            state = ran.construct_expanded_state()
        except Exception:
            state = None  # a parameter without a value: compiled afresh below, which decides
        if state is not None and state.positiontup is not None and ran.positional:
            kept = _text(state.statement, state.positiontup, ran.binds, state.parameters, varying, dialect)
            if kept is not None:
                return kept
    try:
        compiled: Any = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    except Exception:
        log.warning("could not keep a compiled statement's text; it runs as Core", exc_info=True)
        return None
    if not compiled.positional or compiled.positiontup is None:
        return None
    try:
        constants = compiled.construct_params()
    except Exception:
        return None  # a parameter without a value: nothing to keep
    return _text(compiled.string, compiled.positiontup, compiled.binds, constants, varying, dialect)


def _text(
    sql: str,
    positions: Sequence[str],
    binds: Mapping[str, BindParameter[Any]],
    constants: Mapping[str, Any],
    varying: Sequence[BindParameter[Any]],
    dialect: Dialect,
) -> CompiledText | None:
    """The text `sql` with its parameters in `positions`: the `varying` ones (found among `binds`) bound per
    request, every other one the constant it was compiled with."""
    at = {id(bind): i for i, bind in enumerate(varying)}
    slots: list[tuple[int, Any]] = []
    found: set[int] = set()
    for name in positions:
        bind = binds.get(name)
        # What SQLAlchemy applies to the value on the way to the driver: the type's processor for this dialect.
        processor = None if bind is None else bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind is not None and id(bind) in at:
            slots.append((at[id(bind)], processor))
            found.add(at[id(bind)])
            continue
        value = constants.get(name)
        if bind is not None and bind.expanding:
            return None
        slots.append((-1, processor(value) if processor is not None and value is not None else value))
    if found != set(range(len(varying))):
        return None  # a varying parameter was copied or dropped on the way: do not trust the text
    return CompiledText(sql, tuple(slots))
