"""gunicorn's logger with webhook secrets scrubbed from its access log
(``hrsync.logs``): ``gunicorn --logger-class hrsync.gunicorn_logger.Logger``.
Its own module, because gunicorn imports only where it runs (not on Windows)."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from hrsync.logs import secret_paths_scrub


class Logger(GunicornLogger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = secret_paths_scrub(atoms[key])
        return atoms
