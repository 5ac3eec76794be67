"""What ftpsfs says to the person running it: --help against the docs, start-up errors, the
debug log."""

import re
import subprocess
from pathlib import Path

from mount import REPO_ROOT

MAN_PAGE = REPO_ROOT / "packaging" / "ftpsfs.1"
README = REPO_ROOT / "README.md"


def help_text(binary):
    res = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res.stderr
    return res.stdout


def names(spec):
    """Option names in "uid=N,gid=N", "tls_max=1.2|1.3", "cafile=FILE": uid, gid, ..."""
    return {part.split("=")[0] for part in spec.split(",") if part}


def help_options(binary):
    """The -o options ftpsfs's own part of --help lists (before "FUSE options:")."""
    ours = help_text(binary).split("FUSE options:")[0]
    found = set()
    for line in ours.splitlines():
        m = re.match(r"\s+-o (\S+)", line)
        if m:
            found |= names(m.group(1))
    return found


def man_options():
    """The -o options the OPTIONS section of ftpsfs(1) describes (.B/.BI lines)."""
    text = MAN_PAGE.read_text()
    section = text.split(".SH OPTIONS")[1].split(".SH ")[0]
    found = set()
    for line in section.splitlines():
        if line.startswith((".B ", ".BI ")):
            found |= set(re.findall(r'(?:\\-o |", )([a-z0-9_]+)', line))
    return found


def readme_options():
    """The options named in the first cell of README's option tables."""
    found = set()
    for line in README.read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.replace("\\|", "/").split("|")[1]  # "1.2\|1.3" is one cell
            for token in re.findall(r"`([^`]+)`", first_cell):
                if not token.startswith("-"):
                    found |= names(token)
    return found


def test_help_man_page_and_readme_list_the_same_options(ftpsfs_bin):
    in_help = help_options(ftpsfs_bin)
    assert {"allow_suid", "no_default_permissions", "allow_other", "uid", "cafile"} <= in_help
    assert in_help == man_options(), "--help and ftpsfs(1) differ"
    missing = in_help - readme_options()
    assert not missing, f"in --help but not in README's tables: {sorted(missing)}"


def test_a_missing_ca_file_says_why(ftpsfs_bin, tmp_path):
    res = subprocess.run([str(ftpsfs_bin), "u@127.0.0.1:1:/", str(tmp_path),
                          "-o", f"cafile={tmp_path}/nope.pem,password_stdin"],
                         input="pw\n", capture_output=True, text=True, timeout=10)
    assert res.returncode != 0
    assert f"cannot load CA file {tmp_path}/nope.pem: No such file or directory" in res.stderr


def test_debug_log_has_local_time_and_every_line_of_feat(ftp_server, mounted):
    m = mounted(ftp_server("vsftpd"))
    log = m.log_text()
    stamped = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ftpsfs debug: ", re.M)
    assert len(stamped.findall(log)) > 10
    # vsftpd's FEAT: the first line, the feature lines, the last line.
    for line in ("< 211-Features:", "<  EPSV", "<  REST STREAM", "< 211 End"):
        assert line in log, line
    assert "Ignoring invalid max threads" not in log


def _header_constant(header, name):
    """The value of `#define NAME expr` in include/ftpsfs/`header` (integer expressions)."""
    text = (REPO_ROOT / "include" / "ftpsfs" / header).read_text()
    expr = re.search(rf"^#define {name}\s+(.+)$", text, re.M).group(1)
    return eval(re.sub(r"(\d+)ull", r"\1", expr))  # "(256ull << 20)" and plain numbers


def _plain(text):
    """Man page or Markdown source with the font changes and escapes taken out."""
    return re.sub(r"\\f[BIRP]|\\\(..|\\|`|\*\*", "", text)


def test_the_bounds_in_the_docs_are_the_code_s():
    """ftpsfs(1) SECURITY and the README state the limits on what a server may send: they must
    say what the code does (the page once claimed a million entries where the code said
    another number)."""
    bounds = {
        f"{_header_constant('reply.h', 'FTP_LINE_MAX')} bytes",
        f"{_header_constant('reply.h', 'FTP_REPLY_LINES_MAX'):,} lines per reply",
        f"{_header_constant('ftp_list.h', 'FTP_LIST_LINE_MAX')} bytes",
        f"{_header_constant('ftp_list.h', 'FTP_LIST_BYTES_MAX') >> 20} MiB",
        f"{_header_constant('ftp_list.h', 'FTP_LIST_ENTRIES_MAX'):,} entries per directory",
    }
    man = " ".join(_plain(MAN_PAGE.read_text().split(".SH SECURITY")[1]).split())
    readme = " ".join(_plain(README.read_text().split("## Security")[1]).split())
    assert f"{_header_constant('reply.h', 'FTP_REPLY_TEXT_MAX') >> 10} KiB" in man
    # The memory budget of cached listings, with the default the option parser sets.
    opts_c = (REPO_ROOT / "src" / "opts" / "opts.c").read_text()
    mb = re.search(r"o->dir_cache_mb = (\d+);", opts_c).group(1)
    bounds.add(f"dir_cache_mb ({mb} MiB")
    for bound in bounds:
        assert bound in man, bound
        assert bound in readme, bound
