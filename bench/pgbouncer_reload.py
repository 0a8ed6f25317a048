#!/usr/bin/python3
"""What pgbouncer's RELOAD costs a claim as the fleet grows (issue 16).

    /usr/bin/python3 bench/pgbouncer_reload.py [--sizes 10,1000,3000] [--runs 15]

With [pgbouncer] a claim rewrites pgbouncer.ini and userlist.txt with one
entry per live environment, sends RELOAD on the admin console and checks
with SHOW DATABASES that the new entry is there (core/pooler.c).  This
starts Debian's pgbouncer (as nobody, on a free port, in a directory of
its own) on files of previewd's format, grows them to each size, and
times `--runs` rounds of: write both files, RELOAD, SHOW DATABASES.  To
tell the two files apart it also times each size with the other file
kept at 10 entries.  No PostgreSQL is needed: RELOAD does not connect to
the servers the entries name.

Prints one line per case: the medians and the maximum, milliseconds.
"""

import argparse
import base64
import hashlib
import hmac
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import psycopg2  # noqa: E402
from servers import free_port, poll  # noqa: E402


def verifier(password):
    """previewd's SCRAM-SHA-256 verifier (lib/crypto.c)."""
    salt = hmac.new(b"previewd scram salt v1", password.encode(), "sha256").digest()[:16]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096)
    client = hmac.new(salted, b"Client Key", "sha256").digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b = lambda x: base64.b64encode(x).decode()
    return "SCRAM-SHA-256$4096:%s$%s:%s" % (b(salt), b(hashlib.sha256(client).digest()),
                                             b(server))


class Files:
    def __init__(self, d, port, admin_password):
        self.d, self.port = d, port
        self.admin = verifier(admin_password)
        self.user = verifier("an environment's password")
        nobody = pwd.getpwnam("nobody")
        self.uid, self.gid = nobody.pw_uid, nobody.pw_gid

    def _put(self, name, text):
        tmp = self.d / (name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o600)
        os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, self.d / name)

    def write(self, dbs, users):
        ini = ["[databases]"]
        ini += ["pvd_shop_0defc69a_%d = host=127.0.0.1 port=5432 dbname=pvd_shop_0defc69a_%d "
                "pool_size=5 max_db_connections=5" % (i, i) for i in range(dbs)]
        ini += ["", "[pgbouncer]", "listen_addr = 127.0.0.1", "listen_port = %d" % self.port,
                "unix_socket_dir =", "auth_type = scram-sha-256",
                "auth_file = %s/userlist.txt" % self.d, "admin_users = previewd_pgb",
                "log_connections = 0", "log_disconnections = 0"]
        users_text = '"previewd_pgb" "%s"\n' % self.admin
        users_text += "".join('"pvd_shop_0defc69a_%d" "%s"\n' % (i, self.user)
                              for i in range(users))
        self._put("userlist.txt", users_text)
        self._put("pgbouncer.ini", "\n".join(ini) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10,1000,3000")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("pgbouncer_reload.py: run as root (pgbouncer runs as nobody)")
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    top = Path(tempfile.mkdtemp(prefix="pgb-reload-", dir="/tmp"))
    os.chmod(top, 0o711)
    port = free_port()
    files = Files(top, port, "admin password")
    files.write(10, 10)
    proc = subprocess.Popen([binary, "-u", "nobody", str(top / "pgbouncer.ini")],
                            stderr=subprocess.DEVNULL)
    try:
        conn = poll(lambda: _connect(port), 30, what="pgbouncer's admin console")
        cur = conn.cursor()
        print("pgbouncer %s; %d runs per case; milliseconds"
              % (subprocess.run([binary, "--version"], capture_output=True,
                                text=True).stdout.split("\n")[0], args.runs))
        for n in [int(x) for x in args.sizes.split(",")]:
            for dbs, users in ((n, n), (n, 10), (10, n)):
                write_ms, reload_ms = [], []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    files.write(dbs, users)
                    t1 = time.perf_counter()
                    cur.execute("RELOAD")
                    cur.execute("SHOW DATABASES")
                    cur.fetchall()
                    t2 = time.perf_counter()
                    write_ms.append((t1 - t0) * 1000)
                    reload_ms.append((t2 - t1) * 1000)
                print("databases %5d, users %5d: write (Python) %6.2f, RELOAD + SHOW "
                      "DATABASES p50 %6.2f max %6.2f"
                      % (dbs, users, statistics.median(write_ms),
                         statistics.median(reload_ms), max(reload_ms)))
        conn.close()
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(top, ignore_errors=True)


def _connect(port):
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="previewd_pgb",
                                password="admin password", dbname="pgbouncer",
                                connect_timeout=5)
    except psycopg2.OperationalError:
        return None
    conn.autocommit = True
    return conn


if __name__ == "__main__":
    main()
