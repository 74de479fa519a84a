"""Serve a WSGI callable on ``--host``/``--port``: how a ``[web] app = "module:callable"`` runs.

``python -m pytest_drtest.gateway.wsgi orders.service:app --host 127.0.1.10 --port 8000``, in the
folder of the file that names it (which is put on ``sys.path``). Stops on SIGTERM.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server


class _Handler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_drtest.gateway.wsgi")
    parser.add_argument("app", help="module:callable")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    module_name, _, attr = args.app.partition(":")
    app: Any = getattr(importlib.import_module(module_name), attr or "app")
    server = make_server(args.host, args.port, app, threaded=True, request_handler=_Handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"serving {args.app} on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
