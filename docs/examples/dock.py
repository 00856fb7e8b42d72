"""An example front-end processor (前置机) client: push a department system's records to entgraph.

    python docs/examples/dock.py --base http://entgraph:8000 --key egk_... --dataset jj_tax_registration \
        export.csv [--batch 1000] [--channel tax-core] [--full SYNC_ID]

Reads a CSV export (UTF-8 or GB18030, first row the headers, as the seed names them or as our field
names), sends it in batches of JSON records to ``POST /docking/{dataset}``, each with an
Idempotency-Key derived from the file and the batch number (so a rerun after a crash resends the same
batches and the platform takes each once), then waits for the jobs and prints their outcome. ``--full``
sends the file as a full-volume sync: records the platform had from this channel and the file omits are
retired. Only httpx is needed (pip install httpx).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
import time
from pathlib import Path

import httpx


def read_records(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        sys.exit(f"{path}: neither UTF-8 nor GB18030")
    return [{k: v for k, v in row.items() if k} for row in csv.DictReader(io.StringIO(text))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--base", required=True, help="entgraph's URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="an API key of the department role")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--channel", default="docking", help="the sending system's name")
    parser.add_argument("--full", metavar="SYNC_ID", help="send as a full-volume sync with this id")
    args = parser.parse_args()

    records = read_records(args.file)
    digest = hashlib.sha256(args.file.read_bytes()).hexdigest()[:16]
    http = httpx.Client(base_url=args.base, headers={"X-API-Key": args.key}, timeout=120)
    params = {"channel": args.channel} | ({"sync": args.full} if args.full else {})
    jobs = []
    for number, start in enumerate(range(0, len(records), args.batch)):
        body = {"records": records[start : start + args.batch]}
        key = f"{digest}-{number}"
        for attempt in range(5):  # the same key on every attempt: a batch is never taken twice
            try:
                response = http.post(
                    f"/docking/{args.dataset}", json=body, params=params, headers={"Idempotency-Key": key}
                )
                break
            except httpx.TransportError as exc:
                print(f"batch {number}: {exc}; retrying", file=sys.stderr)
                time.sleep(2**attempt)
        else:
            sys.exit(f"batch {number}: the platform did not answer")
        if response.status_code != 202:
            sys.exit(f"batch {number}: HTTP {response.status_code}: {response.text}")
        jobs.append(response.json())
    if args.full:
        response = http.post(
            f"/docking/{args.dataset}/syncs/{args.full}/complete", params={"channel": args.channel}
        )
        if response.status_code != 202:
            sys.exit(f"completing sync {args.full}: HTTP {response.status_code}: {response.text}")
        jobs = [response.json()]
    for sent in jobs:
        job = sent
        while job["status"] in ("queued", "running"):
            time.sleep(0.5)
            job = http.get(f"/uploads/{sent['id']}").json()
        print(
            f"{job['id']} {job['status']}: {job.get('new') or 0} new, {job.get('updated') or 0} updated, "
            f"{job.get('unchanged') or 0} unchanged, {job.get('rejected') or 0} refused, "
            f"{job.get('retired') or 0} retired{'; ' + job['message'] if job.get('message') else ''}"
        )
    # what the platform holds from us, paged by its cursor (a processor keeps the last one between runs)
    since, held = None, 0
    while True:
        page = http.get(f"/docking/{args.dataset}/batches", params={"since": since} if since else {}).json()
        if not page["batches"]:
            break
        held, since = held + len(page["batches"]), page["cursor"]
    print(f"{held} batches held for {args.dataset}; cursor {since}")


if __name__ == "__main__":
    main()
