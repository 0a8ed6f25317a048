"""
The checks `make test` runs on the source itself, shown to fail when they
should:

  scripts/check-layers   the one-way layers of ARCHITECTURE.md hold;
  scripts/check-faults   every fault point is armed by some test.

Each test copies the real tree's C sources (and ARCHITECTURE.md, or the
tests) into a temporary folder, breaks one rule there, and runs the real
script on the copy: it must exit 1 and name what broke.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "check-layers"
FAULTS = REPO_ROOT / "scripts" / "check-faults"


def run_check(root, script=SCRIPT):
    return subprocess.run(["sh", str(script), str(root)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def tree(tmp_path):
    """A copy of the checkout's C sources and ARCHITECTURE.md."""
    root = tmp_path / "tree"
    root.mkdir()
    shutil.copy(REPO_ROOT / "ARCHITECTURE.md", root / "ARCHITECTURE.md")
    for folder in ("lib", "store", "engines", "forges", "core", "handlers",
                   "reaper", "server"):
        for src in (REPO_ROOT / folder).rglob("*"):
            if src.suffix in (".c", ".h"):
                dst = root / src.relative_to(REPO_ROOT)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
    return root


def add_include(path, header):
    text = path.read_text()
    path.write_text(text + '#include "%s"\n' % header)
    return text.count("\n") + 1


def test_the_checkout_keeps_to_its_layers():
    res = run_check(REPO_ROOT)
    assert res.returncode == 0, res.stderr
    assert "keep to the layers" in res.stdout


def test_the_copy_passes_before_it_is_broken(tree):
    res = run_check(tree)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("file,header,says", [
    # up: the bottom layer reaching for the core
    ("lib/log.c", "core/jobs.h", "core/ is above lib/"),
    # up: the core reaching for the reaper (the arrow issue 13 removed)
    ("core/jobs.c", "reaper/sweep.h", "reaper/ is above core/"),
    # up: an engine reaching for the daemon
    ("engines/postgres.c", "server/httpd.h", "server/ is above engines/"),
    # up, from a header
    ("store/store.h", "handlers/http.h", "handlers/ is above store/"),
    # sideways: siblings never include each other
    ("engines/mysql.c", "forges/http.h", "side by side"),
    ("forges/github.c", "store/store.h", "side by side"),
    ("handlers/api.c", "reaper/reaper.h", "side by side"),
])
def test_an_include_against_the_order_fails(tree, file, header, says):
    line = add_include(tree / file, header)
    res = run_check(tree)
    assert res.returncode == 1
    assert '%s:%d: includes "%s"' % (file, line, header) in res.stderr
    assert says in res.stderr


def test_an_include_downwards_passes(tree):
    add_include(tree / "server" / "main.c", "lib/util.h")
    add_include(tree / "handlers" / "api.c", "store/store.h")
    res = run_check(tree)
    assert res.returncode == 0, res.stderr


def test_a_folder_outside_the_layers_fails(tree):
    (tree / "plugins").mkdir()
    (tree / "plugins" / "x.c").write_text('#include "lib/util.h"\n')
    res = run_check(tree)
    assert res.returncode == 1
    assert "plugins/x.c: folder plugins/ is in no layer" in res.stderr


def test_a_long_file_must_say_why(tree):
    body = "/* a module */\n" + "int x;\n" * 900
    (tree / "core" / "big.c").write_text(body)
    res = run_check(tree)
    assert res.returncode == 1
    assert "core/big.c: 901 lines" in res.stderr
    (tree / "core" / "big.c").write_text(
        "/* a module\n * Why this file is long: one table. */\n" + body)
    assert run_check(tree).returncode == 0


def test_the_order_comes_from_architecture_md(tree):
    # Swap core and lib in the documented order: every include of lib/
    # from core/ now runs up, so the check must follow the document.
    arch = tree / "ARCHITECTURE.md"
    text = arch.read_text()
    assert "\ncore\nengines forges store\nlib\n" in text
    arch.write_text(text.replace("\ncore\nengines forges store\nlib\n",
                                 "\nlib\nengines forges store\ncore\n"))
    res = run_check(tree)
    assert res.returncode == 1
    assert "lib/ is above core/" in res.stderr


# ---- check-faults -------------------------------------------------------------

@pytest.fixture
def tree_with_tests(tree):
    shutil.copytree(REPO_ROOT / "tests", tree / "tests",
                    ignore=shutil.ignore_patterns("node_modules", "corpus", "__pycache__"))
    return tree


def test_every_fault_point_of_the_checkout_is_armed():
    res = run_check(REPO_ROOT, FAULTS)
    assert res.returncode == 0, res.stderr
    assert "fault points are armed by a test" in res.stdout


def test_a_new_fault_point_no_test_arms_fails(tree_with_tests):
    assert run_check(tree_with_tests, FAULTS).returncode == 0
    core = tree_with_tests / "core" / "pool.c"
    core.write_text(core.read_text() + '\nstatic void x(void) { fault_point("pool.new_step"); }\n')
    res = run_check(tree_with_tests, FAULTS)
    assert res.returncode == 1
    assert 'fault point "pool.new_step" is armed by no test' in res.stderr
    # A test that arms it makes the check pass again; a longer name that
    # merely starts with it does not count.
    arm = tree_with_tests / "tests" / "integration" / "test_new_step.py"
    arm.write_text('POINT = "pool.new_step_other=kill"\n')
    assert run_check(tree_with_tests, FAULTS).returncode == 1
    arm.write_text('POINT = "pool.new_step=kill@2"\n')
    assert run_check(tree_with_tests, FAULTS).returncode == 0


def test_a_fault_point_whose_test_is_removed_fails(tree_with_tests):
    crash = tree_with_tests / "tests" / "integration" / "test_crash.py"
    crash.unlink()
    res = run_check(tree_with_tests, FAULTS)
    assert res.returncode == 1
    # (points that test_crash.py alone arms)
    for point in ("drop.before", "drop.after", "seed.before_file"):
        assert 'fault point "%s" is armed by no test' % point in res.stderr
