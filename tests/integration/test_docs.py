"""The docs check: every command in README.md and docs/*.md is run, and every
file and function the text cites exists. The convention is written for doc
writers in docs/README.md ("How the docs are checked"); in short:

- A ```sh block holds commands. Each command (a line, with its `\\`
  continuation lines or here-document) runs with `bash -e -o pipefail` in a
  fresh copy of the repository (one copy per markdown file, shared by its
  blocks in order), stdin from /dev/null, and must exit with 0.
- `make run ...` starts in the background with its console captured; the
  check waits for the network-ready line ("net: en0 MAC ..."), or for QEMU to
  exit (a self test), and the session lasts until `# Ctrl-A X`, the next
  `make run`, or the end of the file. 8080 in commands and patterns becomes a
  free port (HTTP_PORT), and :1234 the gdb port (GDB_PORT).
- `# expect: REGEX` asserts on the output of the command before it;
  `# console: REGEX` waits (60 s at most) for the running `make run`'s
  console to match; `# Ctrl-A X` quits QEMU the way a reader does (Ctrl-A X on
  its stdin) and fails if QEMU does not exit; `# skip: REASON` skips the next
  command (only for `make test`, which runs this check).
- Other fences (```text, ```console, ```c, ...) are not run. A block right
  after `<!-- file: PATH -->` must equal that file.
- Backticked paths under our top-level folders must exist; backticked
  `name()` must exist in our sources unless the line says whose it is
  (Linux, QEMU, SeaBIOS, ... or a linux/ or qemu/ path); in mapping tables
  (first header cell "ours"), each function of the first column must be
  defined, in the file the cell names.

Run alone: make docs-check (or pytest -s tests/integration/test_docs.py -k boot).
"""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, free_port

DOC_FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
READY = re.compile(r"net: en0 MAC \S+ IPv4 \S+", re.M)
MAKE_RUN = re.compile(r"^(\w+=\S+\s+)*make\s+run\b")
COMMAND_TIMEOUT = 180
READY_TIMEOUT = 120
CONSOLE_TIMEOUT = 60
QUIT_TIMEOUT = 15
# Whose code a line talks about when it names a function that is not ours.
FOREIGN_WORDS = re.compile(r"Linux|QEMU|SeaBIOS|FreeBSD|Solo5|xv6|Unikraft|OVMF|GRUB|AML|ACPI's|`linux/|`qemu/")
SOURCE_EXT = ("c", "h", "S", "py", "sh", "gdb", "md", "ld", "mk", "html", "txt")


# ------------------------------------------------------------------ parsing

class Block:
    def __init__(self, lang, line, lines, file_marker):
        self.lang = lang            # the fence's info string ("sh", "text", ...)
        self.line = line            # line number of the opening fence
        self.lines = lines          # content lines
        self.file_marker = file_marker  # PATH from <!-- file: PATH --> just before


def parse_blocks(text):
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        marker = None
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0:
            fm = re.match(r"^<!--\s*file:\s*(\S+)\s*-->\s*$", lines[j])
            marker = fm.group(1) if fm else None
        start = i + 1
        i += 1
        while i < len(lines) and not re.match(r"^```\s*$", lines[i]):
            i += 1
        blocks.append(Block(m.group(1), start, lines[start:i], marker))
        i += 1
    return blocks


def steps_of(block):
    """A sh block as steps: ("cmd", text, line) or ("expect"|"console"|"quit"|"skip", arg, line)."""
    steps, lines, i = [], block.lines, 0
    while i < len(lines):
        line, lineno = lines[i], block.line + i + 1
        i += 1
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            m = re.match(r"#\s*(expect|console|skip):\s*(.*)$", s)
            if m:
                steps.append((m.group(1), m.group(2).strip(), lineno))
            elif re.match(r"#\s*Ctrl-A X\b", s):
                steps.append(("quit", "", lineno))
            continue
        cmd = [line]
        while cmd[-1].endswith("\\") and i < len(lines):
            cmd.append(lines[i])
            i += 1
        here = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", line)
        if here:
            while i < len(lines):
                cmd.append(lines[i])
                i += 1
                if lines[i - 1].strip() == here.group(1):
                    break
        steps.append(("cmd", "\n".join(cmd), lineno))
    return steps


# ------------------------------------------------------------------ running

def repo_copy(dest):
    """A copy of the working tree (tracked and untracked files, not ignored
    ones), with build/ copied (times kept, so make sees it up to date) and
    third_party/ linked."""
    try:
        names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                               check=True, capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not {".git", "build", "third_party"} & set(p.relative_to(ROOT).parts)]
    for n in names:
        src = ROOT / n
        if n and src.is_file():
            (dest / n).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / n)
    if (ROOT / "build").is_dir():
        shutil.copytree(ROOT / "build", dest / "build", symlinks=True,
                        ignore=shutil.ignore_patterns("fuzz", "*-serial.log"))
    if (ROOT / "third_party").exists():
        (dest / "third_party").symlink_to(ROOT / "third_party")


def clean_env(http_port, gdb_port):
    env = dict(os.environ)
    # A reader's shell: no make flags inherited from `make test`.
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR"):
        env.pop(k, None)
    env.update(HTTP_PORT=str(http_port), GDB_PORT=str(gdb_port), TERM="dumb", PAGER="cat")
    return env


def kill_group(proc):
    """Kill a process group this check started (its leader is @proc)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    # Children of the group (QEMU exec'd by run.sh) may outlive the leader.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Session:
    """`make run ...` in the background: console in a file, stdin a pipe (for Ctrl-A X)."""

    def __init__(self, cmd, cwd, env, log_path, where):
        self.where = where
        self.log_path = log_path
        self.proc = subprocess.Popen(["bash", "-c", cmd], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=open(log_path, "wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.checked_console = False
        self.ready = False

    @property
    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if READY.search(self.log):
                self.ready = True
                return
            if self.proc.poll() is not None:
                return  # a self test that ends the run: later `# console:` lines judge it
            time.sleep(0.05)
        raise AssertionError(f"{self.where}: no network-ready line within {READY_TIMEOUT} s\n{self.tail()}")

    def console(self, pattern, where):
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + CONSOLE_TIMEOUT
        while True:
            exited = self.proc.poll() is not None
            if rx.search(self.log):
                self.checked_console = True
                return
            if exited or time.monotonic() > deadline:
                why = "QEMU exited" if exited else f"{CONSOLE_TIMEOUT} s passed"
                raise AssertionError(f"{where}: console never matched /{pattern}/ ({why})\n{self.tail()}")
            time.sleep(0.05)

    def quit(self, where):
        """Ctrl-A X, as a reader types it; True if QEMU ended."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"\x01x")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=QUIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                kill_group(self.proc)
                raise AssertionError(f"{where}: QEMU did not quit on Ctrl-A X\n{self.tail()}")
        kill_group(self.proc)  # nothing of the group may outlive the session

    def finish(self):
        """End of the session: it must have shown it worked."""
        if not self.ready and not self.checked_console:
            raise AssertionError(f"{self.where}: `make run` ended before the network-ready line and no "
                                 f"`# console:` line checked what it printed\n{self.tail()}")

    def tail(self):
        return "--- console (tail) ---\n" + self.log[-4000:]


def run_doc(doc, workdir, report):
    text = doc.read_text()
    http_port, gdb_port = free_port(), free_port()
    env = clean_env(http_port, gdb_port)
    rel = doc.relative_to(ROOT)

    def ports(s, in_regex=False):
        s = re.sub(r"\b8080\b", str(http_port), s)
        return s if in_regex else re.sub(r"(?<=:)1234\b", str(gdb_port), s)

    session, last, skip_next, nsessions, ncommands = None, None, None, 0, 0
    try:
        for block in parse_blocks(text):
            if block.lang != "sh":
                continue
            for kind, arg, lineno in steps_of(block):
                where = f"{rel}:{lineno}"
                if kind == "skip":
                    skip_next = arg or "no reason given"
                    continue
                if kind == "cmd" and skip_next:
                    report.append(f"{where}: not run ({skip_next}): {arg.splitlines()[0]}")
                    skip_next = None
                    continue
                if kind == "cmd" and MAKE_RUN.match(arg.strip()):
                    if session:
                        session.quit(where)
                        session.finish()
                    nsessions += 1
                    session = Session(ports(arg), workdir, env, workdir / f"session{nsessions}.log", where)
                    session.wait_ready()
                    last = None
                elif kind == "cmd":
                    ncommands += 1
                    last = run_command(ports(arg), workdir, env, where)
                elif kind == "expect":
                    assert last is not None, f"{where}: `# expect:` follows no command (use `# console:`)"
                    cmd_text, out = last
                    assert re.search(ports(arg, True), out, re.M), \
                        f"{where}: output of `{cmd_text}` does not match /{arg}/\n--- output ---\n{out[-4000:]}"
                elif kind == "console":
                    assert session, f"{where}: `# console:` with no `make run` before it"
                    session.console(ports(arg, True), where)
                elif kind == "quit":
                    assert session, f"{where}: `# Ctrl-A X` with no `make run` before it"
                    session.quit(where)
                    session.finish()
                    session = None
        if session:
            session.quit(f"{rel}: end")
            session.finish()
            session = None
    finally:
        if session:
            kill_group(session.proc)
    return nsessions, ncommands


def run_command(cmd, cwd, env, where):
    proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", cmd], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out = proc.communicate()[0]
        raise AssertionError(f"{where}: `{cmd}` still running after {COMMAND_TIMEOUT} s\n"
                             f"{out.decode(errors='replace')[-4000:]}")
    kill_group(proc)
    out = out.decode(errors="replace")
    assert proc.returncode == 0, f"{where}: `{cmd}` exited with {proc.returncode}\n--- output ---\n{out[-4000:]}"
    return cmd, out


@pytest.mark.parametrize("doc", DOC_FILES, ids=[str(d.relative_to(ROOT)) for d in DOC_FILES])
def test_doc_commands(doc, tmp_path):
    workdir = tmp_path / "repo"
    workdir.mkdir()
    repo_copy(workdir)
    report = []
    t0 = time.monotonic()
    try:
        nsessions, ncommands = run_doc(doc, workdir, report)
    except BaseException:
        # Keep the consoles where CI can show them (tmp_path is pruned).
        art = ROOT / "tests" / "artifacts"
        art.mkdir(parents=True, exist_ok=True)
        name = str(doc.relative_to(ROOT)).replace("/", "-")
        for log in workdir.glob("session*.log"):
            shutil.copy(log, art / f"docs-check-{name}-{log.name}")
        raise
    for r in report:
        print(r)
    print(f"{doc.relative_to(ROOT)}: {ncommands} commands, {nsessions} make run sessions, "
          f"{time.monotonic() - t0:.1f} s")
    # Passed: the copy (tens of MB) goes; a failed one stays for inspection.
    shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------ citations

def our_top_dirs():
    return {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} - {"build"}


def source_files():
    for top in ("apps", "arch", "boot", "drivers", "lib", "net", "tests", "bench", "scripts"):
        d = ROOT / top
        if d.is_dir():
            for ext in ("c", "h", "S"):
                yield from d.rglob(f"*.{ext}")
    for d in (ROOT / "third_party" / "lwip" / "src", ROOT / "third_party" / "http-parser"):
        for ext in ("c", "h"):
            yield from d.rglob(f"*.{ext}")


_idents = None
_basenames = None


def basenames():
    """The names of all files in our tree (and the third-party sources), for bare `name.c` citations."""
    global _basenames
    if _basenames is None:
        _basenames = set()
        for d in [ROOT] + [p for p in ROOT.iterdir() if p.is_dir() and p.name not in (".git", "build")]:
            for f in (d.iterdir() if d == ROOT else d.rglob("*")):
                if f.is_file():
                    _basenames.add(f.name)
    return _basenames


def code_only(text):
    """C or assembly text without its comments and string literals: a name
    that appears only there is not one the code has."""
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"', " ", text, flags=re.S)


def identifiers_called():
    """Every name followed by '(' in the code (not comments or strings) of our
    sources outside tests/, and of lwIP's and http-parser's (functions, macros):
    a function only a test or a comment mentions does not exist."""
    global _idents
    if _idents is None:
        _idents = set()
        for f in source_files():
            code = code_only(f.read_text(errors="replace"))
            if (ROOT / "tests") in f.parents:
                # The tests' own functions (the device model's, fixtures) may be cited
                # where they are defined: a definition starts at the line's start
                # (our style) and opens a body, or is a function-like macro.
                _idents.update(re.findall(r"^(?:[A-Za-z_][\w \t\*]*?\b)?([A-Za-z_]\w*)\([^;{]*\)\s*\{", code, re.M))
                _idents.update(re.findall(r"^\s*#\s*define\s+([A-Za-z_]\w*)\(", code, re.M))
                continue
            _idents.update(re.findall(r"\b([A-Za-z_]\w*)\s*\(", code))
        # A few the C library and compiler give every C file.
        _idents.update({"main"})
    return _idents


def defined_in(name, path):
    """Is @name defined (a function body, a macro, an assembly label) in @path?"""
    text = path.read_text(errors="replace")
    if re.search(rf"^\s*#\s*define\s+{name}\b", text, re.M) or re.search(rf"^{name}:", text, re.M):
        return True
    for m in re.finditer(rf"^[A-Za-z_][^;=\n]*\b{name}\s*\(", text, re.M):
        # A declaration ends in ';' before any '{'.
        rest = text[m.end():m.end() + 2000]
        brace, semi = rest.find("{"), rest.find(";")
        if brace != -1 and (semi == -1 or brace < semi):
            return True
    return False


def backticks(line):
    return re.findall(r"`([^`\n]+)`", line)


def expand_braces(s):
    m = re.search(r"\{([^{}]*)\}", s)
    if not m:
        return [s]
    return [x for alt in m.group(1).split(",") for x in expand_braces(s[:m.start()] + alt + s[m.end():])]


def prose_lines(text):
    """(line number, line) outside fenced blocks."""
    fenced = False
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(r"^```", line):
            fenced = not fenced
            continue
        if not fenced:
            yield i, line


def mapping_rows(text):
    """Rows of tables whose first header cell is 'ours': (line number, cells)."""
    rows, in_map = [], False
    for i, line in prose_lines(text):
        if not line.startswith("|"):
            in_map = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if re.match(r"^:?-+:?$", cells[0]):
            continue
        if not in_map and re.match(r"^\**ours\**$", cells[0], re.I):
            in_map = True
            continue
        if in_map:
            rows.append((i, cells))
    return rows


@pytest.mark.parametrize("doc", DOC_FILES, ids=[str(d.relative_to(ROOT)) for d in DOC_FILES])
def test_doc_citations(doc):
    text = doc.read_text()
    rel = doc.relative_to(ROOT)
    tops = our_top_dirs()
    idents = identifiers_called()
    problems = []

    # Functions named in the foreign columns of mapping tables, anywhere in the book.
    foreign = set()
    for d in DOC_FILES:
        for _, cells in mapping_rows(d.read_text()):
            for c in cells[1:]:
                foreign.update(re.findall(r"`([A-Za-z_]\w*)\(", c))

    for i, line in prose_lines(text):
        for tok in backticks(line):
            for path in expand_braces(tok.strip()):
                first = path.split("/")[0]
                if "/" in path and first in tops and first != "build" and not re.search(r"[<>*$ ]", path):
                    if not (ROOT / path).exists():
                        problems.append(f"{rel}:{i}: `{path}` does not exist")
                elif "/" not in path and re.fullmatch(r"[\w.-]+\.(" + "|".join(SOURCE_EXT) + ")", path):
                    if path not in basenames():
                        problems.append(f"{rel}:{i}: no file called `{path}` in the tree")
            m = re.match(r"^(?:struct\s+)?([A-Za-z_]\w*)\(", tok)
            if m and m.group(1) not in idents and m.group(1) not in foreign:
                before = line[:line.find("`" + tok)]
                if not FOREIGN_WORDS.search(before):
                    problems.append(f"{rel}:{i}: `{tok}`: no {m.group(1)} in our sources (or say whose it is)")
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", line):
            if not re.match(r"^[a-z]+:", link) and not (doc.parent / link).exists():
                problems.append(f"{rel}:{i}: link to {link}, which does not exist")

    for i, cells in mapping_rows(text):
        first = cells[0]
        paths = [p for p in backticks(first) if "/" in p and (ROOT / p).is_file()]
        for name in re.findall(r"`([A-Za-z_]\w*)\(", first):
            files = [ROOT / p for p in paths] or list(source_files())
            if not any(defined_in(name, f) for f in files):
                where = " or ".join(paths) if paths else "our sources"
                problems.append(f"{rel}:{i}: mapping table: {name}() is not defined in {where}")

    for block in parse_blocks(text):
        if block.file_marker:
            want = (ROOT / block.file_marker).read_text()
            got = "\n".join(block.lines) + "\n"
            if got != want:
                problems.append(f"{rel}:{block.line}: the block marked as {block.file_marker} differs from it")

    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ figures

FIGURES = ROOT / "docs" / "figures"
def test_chapter_numbers():
    """docs/README.md numbers the chapters 1, 2, 3... in order; each chapter's
    title carries its number ("# 4. The virtqueue"); a link written as
    "[chapter N](file.md)" points at chapter N; and every "chapter N" names
    a chapter that exists."""
    book = (ROOT / "docs" / "README.md").read_text()
    toc = [(int(n), f) for n, f in re.findall(r"^ *(\d+)\. \[[^]]+\]\(([a-z0-9_]+\.md)\)", book, re.M)]
    assert [n for n, _ in toc] == list(range(1, len(toc) + 1)), f"docs/README.md numbers its chapters {toc}"
    number = {f: n for n, f in toc}
    bad = []
    for f, n in number.items():
        title = (ROOT / "docs" / f).read_text().splitlines()[0]
        if not title.startswith(f"# {n}. "):
            bad.append(f"docs/{f}: title {title!r}, but docs/README.md makes it chapter {n}")
    for doc in DOC_FILES:
        for i, line in prose_lines(doc.read_text()):
            for n, f in re.findall(r"\[[Cc]hapter (\d+)\]\(([a-z0-9_]+\.md)\)", line):
                if number.get(f) != int(n):
                    bad.append(f"{doc.relative_to(ROOT)}:{i}: [chapter {n}]({f}), but {f} is chapter {number.get(f)}")
            for n in re.findall(r"\b[Cc]hapters? (\d+)\b", line):
                if not 1 <= int(n) <= len(toc):
                    bad.append(f"{doc.relative_to(ROOT)}:{i}: chapter {n}: the book has {len(toc)}")
    assert not bad, "\n".join(bad)


SVG_NS = "{http://www.w3.org/2000/svg}svg"


def figure_links():
    """(doc, line number, path) of every docs/figures/*.svg a chapter links or shows."""
    out = []
    for doc in DOC_FILES:
        for i, line in prose_lines(doc.read_text()):
            for link in re.findall(r"\]\(([^)#\s]+\.svg)\)", line):
                out.append((doc, i, (doc.parent / link).resolve()))
    return out


def test_every_linked_figure_exists_and_is_svg():
    """Each figure a chapter links is there, parses as XML and has an <svg>
    root with a size; and every figure in docs/figures is linked somewhere."""
    import xml.etree.ElementTree as ET
    problems, linked = [], set()
    for doc, i, path in figure_links():
        where = f"{doc.relative_to(ROOT)}:{i}"
        linked.add(path)
        if not path.is_file():
            problems.append(f"{where}: {path.relative_to(ROOT)} does not exist")
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            problems.append(f"{where}: {path.relative_to(ROOT)} is not XML: {e}")
            continue
        if root.tag != SVG_NS or not root.get("viewBox"):
            problems.append(f"{where}: {path.relative_to(ROOT)}: root <{root.tag}>, viewBox {root.get('viewBox')}")
    for f in sorted(FIGURES.glob("*.svg")):
        if f.resolve() not in linked:
            problems.append(f"{f.relative_to(ROOT)} is linked from no chapter")
    assert linked, "no chapter links a figure"
    assert not problems, "\n".join(problems)


def test_figures_are_what_the_script_draws():
    """docs/figures/*.svg are scripts/figures.py's output from today's sources
    (struct offsets, masks, the qboot log): a layout that changes in the code
    fails here until the figure is drawn again."""
    r = subprocess.run(["python3", "scripts/figures.py", "--check"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def png_ink(data):
    """(width, height, fraction of pixels that are not white) of a PNG
    (8-bit RGB or RGBA, non-interlaced, what Chromium writes)."""
    import struct
    import zlib
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    prev, ink, i = bytearray(stride), 0, 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xff
            elif f == 2:
                line[x] = (line[x] + b) & 0xff
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        ink += sum(1 for x in range(0, stride, bpp) if line[x:x + 3] != b"\xff\xff\xff")
        prev = line
    return w, h, ink / (w * h)


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium: sh scripts/setup.sh test")
@pytest.mark.parametrize("svg", sorted(p.name for p in FIGURES.glob("*.svg")))
def test_figure_renders_in_chromium(svg):
    """Headless Chromium draws the figure; the screenshot lands in
    tests/artifacts/figure-NAME.png, and it must have ink on it (a figure
    Chromium cannot read renders as a blank page or an error text)."""
    import xml.etree.ElementTree as ET
    root = ET.parse(FIGURES / svg).getroot()
    w, h = (int(float(v)) for v in root.get("viewBox").split()[2:])
    art = ROOT / "tests" / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    shot = art / f"figure-{svg[:-4]}.png"
    shot.unlink(missing_ok=True)
    # --no-sandbox: Chromium's sandbox refuses to start as root, as tests here run.
    r = subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--hide-scrollbars", f"--window-size={w},{h}",
                        f"--screenshot={shot}", (FIGURES / svg).as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.is_file(), r.stdout[-2000:] + r.stderr[-2000:]
    pw, ph, ink = png_ink(shot.read_bytes())
    assert (pw, ph) == (w, h), (pw, ph, w, h)
    # Text and boxes: every figure here covers more than 3% of its area (measured: 6-20%).
    assert ink > 0.03, f"{svg}: only {ink:.1%} of the screenshot is not white"
    print(f"{svg}: {pw}x{ph}, {ink:.1%} ink, {shot.relative_to(ROOT)}")
