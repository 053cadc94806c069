"""The files an import job reads: the upload, copied once into a staging directory, read chunk by chunk.

A job's parameters name the staged file and its SHA-256; each chunk opens it, checks the digest (the rows a
resumed job goes through are the rows it started with) and reads only its own rows. The file is the job's
until the job is finished; :func:`discard` removes it then (ADR 0015). The directory must be one the web
process and the worker both see (``data_dir/job-files``: one machine, or a shared volume).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import IO

#: Bytes copied per read: the upload is never held whole.
_COPY_BYTES = 1 << 20


class StagedFileChanged(RuntimeError):
    """The staged file is missing or is not the file the job was created with."""


def stage(stream: IO[bytes], directory: Path, filename: str) -> tuple[Path, str]:
    """Copy `stream` into `directory` under a fresh name keeping `filename`'s suffix (the reader goes by it);
    the path and the SHA-256 of what was copied. Readable by this service's user only (the rows hold NIKs)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    suffix = Path(filename).suffix.lower()[:10]
    path = directory / f"{secrets.token_hex(16)}{suffix}"
    digest = hashlib.sha256()
    stream.seek(0)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while block := stream.read(_COPY_BYTES):
            digest.update(block)
            out.write(block)
    stream.seek(0)
    return path, digest.hexdigest()


def open_staged(path: str, sha256: str) -> IO[bytes]:
    """The staged file, opened for reading, after checking it is the one the job was created with."""
    try:
        stream = open(path, "rb")  # noqa: SIM115  # the caller closes it
    except FileNotFoundError:
        raise StagedFileChanged(f"the job's file {Path(path).name} is gone from the staging directory") from None
    digest = hashlib.sha256()
    while block := stream.read(_COPY_BYTES):
        digest.update(block)
    if digest.hexdigest() != sha256:
        stream.close()
        raise StagedFileChanged(f"the job's file {Path(path).name} was changed after the job was created")
    stream.seek(0)
    return stream


def discard(path: str) -> None:
    """Remove a finished job's file (already gone: nothing to do)."""
    Path(path).unlink(missing_ok=True)
