"""The benchmark's floor route: parse a JSON body and answer a JSON body of a given size.

Only registered when CDS_BENCH_FLOOR=on: it measures what Flask, gunicorn and JSON cost for a
request and a response as large as a hook's, so that a hook's latency can be read as a ratio.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

floor = Blueprint("floor", __name__)
MAX_SIZE = 10_000_000


@floor.post("/bench/floor")
def floor_route() -> Response:
    """Parse the body; answer {"padding": "xxx..."} of `size` bytes."""
    parsed = request.get_json(silent=True)
    size = min(max(int(request.args.get("size", "2")), 16), MAX_SIZE)
    body = json.dumps({"parsed": parsed is not None, "padding": ""})
    padding = "x" * max(size - len(body), 0)
    return Response(body.replace('""', f'"{padding}"', 1), mimetype="application/json")
