"""A tiny key-value store for Hello Retail's tables (prices, catalog, creditcards, purchases,
photos), one JSON file per table in its data folder (KV_DATA_DIR, else the instance's temporary
folder). A table nobody has written yet is read from seed.json, shipped with the function; the first
write creates its file. Writes go to a new file that is then renamed over the old one, so a reader
never sees half a table.

  GET  /tables/NAME          the whole table
  GET  /tables/NAME/KEY      one row (404 if absent)
  PUT  /tables/NAME/KEY      set a row (JSON body)
  POST /tables/NAME          append a row under a new key; answers {"key": ...}
"""
import json
import os
import re
import tempfile
import threading
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("KV_DATA_DIR") or os.path.join(tempfile.gettempdir(), "kv")
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
lock = threading.Lock()
seed = None


def table_file(name):
    return os.path.join(DATA, name + ".json")


def load(name):
    global seed
    path = table_file(name)
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    if seed is None:
        with open(os.path.join(HERE, "seed.json")) as f:
            seed = json.load(f)
    return json.loads(json.dumps(seed.get(name, {})))  # a copy: the seed itself never changes


def save(name, rows):
    os.makedirs(DATA, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=DATA, prefix="." + name + ".")
    with os.fdopen(fd, "w") as f:
        json.dump(rows, f)
    os.replace(tmp, table_file(name))


def reply(status, body):
    return {"statusCode": status, "body": json.dumps(body), "headers": {"Content-Type": "application/json"}}


def handle(event, context):
    parts = [p for p in event.path.split("/") if p]
    if len(parts) < 2 or parts[0] != "tables" or not NAME.match(parts[1]) or len(parts) > 3:
        return reply(404, {"error": "expected /tables/NAME or /tables/NAME/KEY"})
    name, key = parts[1], (parts[2] if len(parts) == 3 else None)
    method = event.method.upper()
    with lock:
        rows = load(name)
        if method == "GET":
            if key is None:
                return reply(200, rows)
            return reply(200, rows[key]) if key in rows else reply(404, {"error": "no row " + key})
        try:
            value = json.loads(event.body or b"null")
        except ValueError as e:
            return reply(400, {"error": "body is not JSON: " + str(e)})
        if method == "PUT" and key is not None:
            rows[key] = value
        elif method == "POST" and key is None:
            key = str(uuid.uuid4())
            rows[key] = value
        else:
            return reply(405, {"error": method + " not allowed here"})
        save(name, rows)
        return reply(200, {"key": key})
