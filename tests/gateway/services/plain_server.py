"""A web tier that is not WSGI: a plain HTTP server started as a command (any language would do).

It speaks the probe protocol against the region's DynamoDB table, found in its environment.
Usage: python plain_server.py --host H --port P
"""
from __future__ import annotations

import argparse
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import boto3

TABLE = os.environ["DRTEST_TABLE"]
ddb = boto3.client("dynamodb")


class Handler(BaseHTTPRequestHandler):
    def _key(self) -> str:
        return unquote(self.path.removeprefix("/drtest/items/"))

    def _reply(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        payload = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            ddb.put_item(TableName=TABLE, Item={"pk": {"S": self._key()}, "payload": {"S": payload}})
        except Exception as exc:  # noqa: BLE001
            self._reply(503, str(exc))
            return
        self._reply(200, "ok")

    def do_GET(self) -> None:
        try:
            item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": self._key()}}, ConsistentRead=True).get("Item")
        except Exception as exc:  # noqa: BLE001
            self._reply(503, str(exc))
            return
        if item is None:
            self._reply(404, "absent")
        else:
            self._reply(200, item["payload"]["S"])

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    print(f"plain server on {args.host}:{args.port}", flush=True)
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
