#!/usr/bin/python3
"""How long one orphan sweep pass holds a job worker (issue 26).

    make
    /usr/bin/python3 bench/sweep_pass.py [--objects 3000,20000] [--passes 5]

Starts a throwaway PostgreSQL (tests/integration/servers.py) and previewd
(build/previewd, [reaper] interval 1s, orphan_grace 1h, log_level debug)
with two environments, then for each count makes that many roles named
like previewd's (pvd_bulk_NNNNN, by its admin account, as strays a crash
leaves) and reads the duration of the next passes from previewd's log
("sweep of postgres: D databases and R roles listed, S sizes measured, in
N ms"). The strays stay within the grace, so every pass lists and records
all of them: the worst case, as every object is then an orphan to
remember. The first pass after the roles appear (which inserts them)
is reported apart from the ones after (which only update them).
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
os.environ.setdefault("PREVIEWD_BIN", str(ROOT / "build" / "previewd"))

from previewd import Previewd, pr_payload  # noqa: E402
from servers import PostgresServer  # noqa: E402

PASS = re.compile(r"sweep of postgres: (\d+) databases and (\d+) roles listed, "
                  r"(\d+) sizes measured, in (\d+) ms")


def roles(server, lo, hi, verb):
    conn = server.connect(user="previewd")
    try:
        cur = conn.cursor()
        for k in range(lo, hi + 1, 2000):
            cur.execute("DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE format('%s %%I', "
                        "'pvd_bulk_' || lpad(i::text, 5, '0')); END LOOP; END $$"
                        % (k, min(hi, k + 1999), verb))
    finally:
        conn.close()


def passes(d):
    return [(int(m.group(2)), int(m.group(4))) for m in PASS.finditer(d.log())]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", default="3000,20000")
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()
    counts = [int(x) for x in args.objects.split(",")]
    pg = PostgresServer()
    pg.start()
    tmp = tempfile.TemporaryDirectory(prefix="previewd-sweep-bench-")
    d = None
    try:
        d = Previewd(Path(tmp.name) / "d", {
            "server": {"log_level": "debug"},
            "postgres": {"admin_url": pg.admin_url, "pool_size": "1"},
            "repo:acme/shop": {},
            "reaper": {"interval": "1s", "orphan_grace": "1h"},
        })
        d.write_config()
        d.start()
        for n in (1, 2):
            d.github_webhook("pull_request", pr_payload("opened", n))
        made = 0
        print("objects  first pass ms  later passes ms (median, max)")
        for count in counts:
            roles(pg, made + 1, count, "CREATE ROLE")
            made = count
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                got = [ms for r, ms in passes(d) if r >= count]
                if len(got) >= args.passes + 1:
                    break
                time.sleep(0.2)
            else:
                sys.exit("no %d passes over %d roles within 300 s" % (args.passes, count))
            later = got[1:args.passes + 1]
            print("%7d  %13d  %d, %d" % (count, got[0], statistics.median(later), max(later)))
        roles(pg, 1, made, "DROP ROLE IF EXISTS")
    finally:
        if d is not None:
            d.stop()
        pg.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
