"""Structured (JSON) logs carrying the request id, so one request can be followed across log lines."""

from __future__ import annotations

import contextvars
import logging
import sys

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            entry.update(http)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # orjson: one line per request is logged, and json.dumps was most of the line's cost; values it
        # does not know (none are expected) are written as their str() rather than losing the line.
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # One JSON line per request comes from api.observe; uvicorn's own access lines would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic narrates every revision check (readyz runs one per probe); keep its warnings only.
    logging.getLogger("alembic").setLevel(logging.WARNING)
