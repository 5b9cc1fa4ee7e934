#!/usr/bin/env python3
"""A reference verifier for git-crew workspaces, record format v1.

Written from schema/SIGNING.md and the JSON Schemas beside it (schema/*.json)
alone, without the Rust code, to show that a third party can check a
workspace from the specification. Each function names the section of
SIGNING.md it implements (§n). It favours plainness over speed.

Modes:
  verify.py --repo PATH [--branch crew]
      the whole history of a branch, as `git crew verify` (§7.1, §8, §9)
  verify.py --body FILE... [--kind KIND]
      bare record bodies, as tests/fixtures/valid/ and invalid/ (§16): the
      kind defaults to the file name's prefix, `<kind>-<why>.yaml`; with
      several files, one verdict per line, prefixed with the file's name
  verify.py --file FILE --workspace HEX [--path PATH]
      one log file signed for a workspace id (§2-§6, §8.2 steps 1-7, and
      step 8 when --path names its place), e.g. tests/fixtures/v1/log.yaml
  verify.py --tree DIR
      a directory holding a workspace's files, e.g. tests/fixtures/v1/workspace
      (§7 layout, §8.1, §8.2, §9; no history, so no §7.1, §8.3 or §8.4)
  verify.py --request FILE [--workspace HEX]
      an identity request (§13)

Exit status: 0 valid; 4 refused (git-crew's exit code for a verification
failure), printing the failure with its place (§8.6); 2 for a usage error or
a missing dependency. Needs Python 3.11+, git, and the `cryptography` package.
"""

import argparse
import bisect
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_USAGE, EXIT_REFUSED = 0, 2, 4

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    sys.stderr.write("verify.py needs the Python package `cryptography` (pip install cryptography)\n")
    sys.exit(EXIT_USAGE)
HERE = Path(__file__).resolve().parent
DEFAULT_ESCAPES = HERE / "debug-escapes.txt"


class Unusable(Exception):
    """Nothing to verify (no such repository or branch): a usage error, exit 2."""


class Refusal(Exception):
    """A verification failure, with what is known of its place (§8.6)."""

    def __init__(self, rule, why, *, commit=None, path=None, offset=None, record=None):
        super().__init__(why)
        self.rule, self.why = rule, why
        self.commit, self.path, self.offset, self.record = commit, path, offset, record

    def place(self, **where):
        """Fill in the parts of the place not known yet; returns self."""
        for name, value in where.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        return self

    def __str__(self):
        parts = []
        if self.commit:
            parts.append(f"commit {self.commit}")
        if self.path:
            parts.append(f"file {self.path}")
        if self.record:
            parts.append(f"record {self.record}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        return ": ".join(parts + [f"{self.why} [SIGNING.md {self.rule}]"])


# ---------------------------------------------------------------------------
# Shared character classes and names (§3.3, §4.1, §4.2, §11)

ACTOR_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")  # use with fullmatch
HEX64 = re.compile(r"[0-9a-f]{64}")
WHITE_SPACE = frozenset(
    [chr(c) for c in range(0x09, 0x0E)]
    + ["\u0020", "\u0085", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
)
MAX_FILE_BYTES = 268_435_456
MAX_RECORDS = 1_000_000
MAX_BODY_BYTES = 65_536
MAX_DEPTH = 8
MAX_NODES = 4096

ELECTION_LABEL = "crew:supervisor"  # §9.2.1: the supervisors' election task
KINDS = (
    "crew.genesis crew.repair actor.admit actor.suspend actor.resume actor.rotate actor.revoke actor.update "
    "live.beat task.create task.edit task.claim task.release task.handoff task.comment task.block task.unblock "
    "task.done task.cancel task.reopen receipt msg.send msg.join msg.leave msg.ack crew.policy task.usage "
    "supervise.step path.reserve path.release"
).split()
TASK_KINDS = {"task.edit", "task.claim", "task.release", "task.handoff", "task.comment", "task.block",
              "task.unblock", "task.done", "task.cancel", "task.reopen", "receipt", "task.usage"}


def trim(s):
    """Trim Unicode White_Space at both ends (§4.2, §8.4), not Python's str.strip()."""
    start, end = 0, len(s)
    while start < end and s[start] in WHITE_SPACE:
        start += 1
    while end > start and s[end - 1] in WHITE_SPACE:
        end -= 1
    return s[start:end]


# ---------------------------------------------------------------------------
# §4.1 Hybrid logical clock stamps

STAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z(?:~([1-9][0-9]*))?")


def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year, month):
    return [31, 29 if is_leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]


def days_from_civil(y, m, d):
    """Days since 1970-01-01 in the proleptic Gregorian calendar (§4.1)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def valid_date(y, m, d):
    return 1 <= m <= 12 and 1 <= d <= days_in_month(y, m)


def parse_stamp(text):
    """§4.1: a stamp in its only spelling, as (ms, counter); None if not canonical."""
    m = STAMP.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac = (int(g) for g in m.groups()[:7])
    counter = int(m.group(8)) if m.group(8) else 0
    if not valid_date(y, mo, d) or h > 23 or mi > 59 or s > 59 or counter > 65535:
        return None
    ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000 + frac
    return (ms, counter)


# ---------------------------------------------------------------------------
# §5 The signed message, the record id, the signature, the proof of possession

RECORD_DOMAIN = b"git-crew record v1\x00"
KEY_DOMAIN = b"git-crew key v1\x00"
ZERO_ID = bytes(32)

# Edwards25519 (RFC 8032 5.1), for the strict checks that `cryptography` does
# not make: it accepts small-order keys and small-order R (see the fixture
# tests/fixtures/signature/small-order-r.yaml).
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def point_add(p1, p2):
    """Add two points in extended coordinates (RFC 8032 5.1.4)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def decode_point(b):
    """32 bytes as a curve point (y taken modulo p, sign bit as in RFC 8032), or
    None if they are no point. Condition 2 of §5.3 reads R so; condition 1
    (`usable_key`) also requires the canonical encoding, y < p."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    y %= P
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P != 0:
        if (v * x * x + u) % P != 0:
            return None
        x = x * SQRT_M1 % P
    if x & 1 != sign:
        x = (P - x) % P  # x = 0 stays 0: of small order either way (§5.3)
    return (x, y, 1, x * y % P)


def is_small_order(point):
    """Order 1, 2, 4 or 8: eight times the point is the identity."""
    q = point
    for _ in range(3):
        q = point_add(q, q)
    return q[0] % P == 0 and (q[1] - q[2]) % P == 0


def is_canonical(b):
    """§5.3 condition 1: y, the low 255 bits read little-endian, is less than p
    (so no point has a second spelling y + p; only y <= 18 has one)."""
    return int.from_bytes(b, "little") & ((1 << 255) - 1) < P


def usable_key(key):
    """§5.3 condition 1 (§4.3, §9.1 rules 4 and 7): the canonical encoding of a
    point not of small order."""
    if len(key) != 32 or not is_canonical(key):
        return False
    point = decode_point(key)
    return point is not None and not is_small_order(point)


def verify_strict(key, signature, message):
    """§5.3: strict ed25519 verification, all four conditions."""
    if len(key) != 32 or len(signature) != 64:
        return False
    if not usable_key(key):  # condition 1
        return False
    r_point = decode_point(signature[:32])  # condition 2
    if r_point is None or is_small_order(r_point):
        return False
    if int.from_bytes(signature[32:], "little") >= L:  # condition 3
        return False
    # Condition 4, the cofactorless equation compared as bytes, is what
    # OpenSSL's Ed25519 verification computes.
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def record_message(ws, kind, body):
    """§5.1: domain, workspace id (zero for a genesis), kind, NUL, body."""
    w = ZERO_ID if kind == "crew.genesis" else ws
    return RECORD_DOMAIN + w + kind.encode() + b"\x00" + body


def verify_proof(ws, name, key_hex, proof_hex):
    """§5.4: the key's signature of the key message for this name and workspace."""
    key = bytes.fromhex(key_hex)
    message = KEY_DOMAIN + ws + name.encode() + b"\x00" + key
    return verify_strict(key, bytes.fromhex(proof_hex), message)


# ---------------------------------------------------------------------------
# §2 Framing

HEADER_V = re.compile(rb"v: (0|[1-9][0-9]*)")
HEADER_KIND = re.compile(rb'kind: "([a-z.]{1,40})"')
HEADER_AUTHOR = re.compile(rb'author: "([a-z][a-z0-9_-]{0,31})"')
HEADER_AT = re.compile(rb'at: "([^"\\]*)"')
SIG_LINE = re.compile(rb"sig: ed25519 ([0-9a-f]{64}) ([0-9a-f]{128})")
CONFLICT_PREFIXES = (b"<<<<<<<", b">>>>>>>", b"|||||||")


@dataclass
class Record:
    """One framed record (§2), and once decoded, its fields (§3, §4)."""

    offset: int  # of its `---` line in its file
    kind: str
    author: str
    at_text: str
    at: tuple  # (ms, counter)
    body: bytes
    key: str  # hex, from the sig: line
    sig: str  # hex, from the sig: line
    sig_line: bytes
    id: str = ""  # hex, once the workspace id is known (§5.2)
    fields: dict = field(default_factory=dict)
    path: str = ""

    def sort_key(self):
        """§6: (at as (ms, counter), id as bytes = as lowercase hex)."""
        return (self.at[0], self.at[1], self.id)

    def compute_id(self, ws):
        self.id = hashlib.sha256(record_message(ws, self.kind, self.body)).hexdigest()


def split_lines(data):
    """The lines of `data` (each without its line feed) with their offsets."""
    lines, pos = [], 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        lines.append((pos, data[pos:end]))
        pos = end + 1
    return lines


def check_header(lines, start):
    """§2 step 1: the four header lines at lines[start:start+4]; returns
    (kind, author, at_text, at)."""
    def line(i):
        if start + i >= len(lines):
            raise Refusal("2", "the record ends before its four header lines", offset=lines[-1][0])
        return lines[start + i]

    off, text = line(0)
    m = HEADER_V.fullmatch(text)
    if not m:
        raise Refusal("2", f"malformed `v:` line {text[:60]!r}", offset=off)
    if len(m.group(1)) > 1 or int(m.group(1)) > 1:
        raise Refusal("2", f"written by a newer format (v: {m.group(1).decode()}); this verifier reads v1",
                      offset=off)
    if m.group(1) != b"1":
        raise Refusal("2", f"malformed `v:` line {text[:60]!r} (v1 is `v: 1`)", offset=off)
    off, text = line(1)
    m = HEADER_KIND.fullmatch(text)
    if not m:
        raise Refusal("2", f"malformed `kind:` line {text[:60]!r}", offset=off)
    kind = m.group(1).decode()
    off, text = line(2)
    m = HEADER_AUTHOR.fullmatch(text)
    if not m:
        raise Refusal("2", f"malformed `author:` line {text[:60]!r}", offset=off)
    author = m.group(1).decode()
    off, text = line(3)
    m = HEADER_AT.fullmatch(text)
    at = parse_stamp(m.group(1).decode()) if m else None
    if at is None:
        raise Refusal("2", f"malformed `at:` line {text[:60]!r} (not a canonical stamp, §4.1)", offset=off)
    return kind, author, m.group(1).decode(), at


def check_body_line(off, text):
    """§2 step 2: a body line after the header is not empty, not a comment, not `---`."""
    if text == b"":
        raise Refusal("2", "an empty line in a body", offset=off)
    if text.startswith(b"#"):
        raise Refusal("2", "a body line starting with `#`", offset=off)


def frame_file(data):
    """§2: split a log file into its records (no ids yet), or refuse it."""
    if len(data) > MAX_FILE_BYTES:
        raise Refusal("2", "file larger than 268,435,456 bytes", offset=0)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refusal("2", "not valid UTF-8", offset=e.start) from None
    if data and not data.endswith(b"\n"):
        raise Refusal("2", "the file does not end with a line feed", offset=len(data))
    lines = split_lines(data)
    for off, text in lines:
        if text.startswith(CONFLICT_PREFIXES) or text == b"=======":
            raise Refusal("2", "a git conflict marker", offset=off)
    records, i = [], 0
    while i < len(lines):
        start, text = lines[i]
        if text != b"---":
            raise Refusal("2", "expected a `---` line", offset=start)
        i += 1
        body_start = lines[i][0] if i < len(lines) else len(data)
        kind, author, at_text, at = check_header(lines, i)
        i += 4
        while True:
            if i == len(lines):
                raise Refusal("2", "the record has no `sig:` line (the file ends)", offset=start)
            off, text = lines[i]
            if text.startswith(b"sig: "):
                break
            if text == b"---":
                raise Refusal("2", "the record has no `sig:` line (a `---` line comes first)", offset=start)
            check_body_line(off, text)
            i += 1
        sig_off, sig_text = lines[i]
        if sig_off - body_start > MAX_BODY_BYTES:
            raise Refusal("2", "a body larger than 65,536 bytes", offset=start)
        m = SIG_LINE.fullmatch(sig_text)
        if not m:
            raise Refusal("2", "malformed `sig:` line", offset=sig_off)
        records.append(Record(start, kind, author, at_text, at, data[body_start:sig_off],
                              m.group(1).decode(), m.group(2).decode(), sig_text))
        if len(records) > MAX_RECORDS:
            raise Refusal("2", "more than 1,000,000 records", offset=start)
        i += 1
    return records


# ---------------------------------------------------------------------------
# §6 File order


def read_log(data, ws):
    """§8.2 steps 1-2: frame a file, compute ids under `ws`, check the order."""
    records = frame_file(data)
    for r in records:
        r.compute_id(ws)
    for before, after in zip(records, records[1:]):
        if not before.sort_key() < after.sort_key():
            raise Refusal("6", f"out of order: record {after.id} does not sort after record {before.id}",
                          offset=after.offset)
    return records


# ---------------------------------------------------------------------------
# §3 The canonical body encoding: a parser for exactly the canonical grammar,
# and the emitter of §3.2, to compare the re-emission with the stored bytes.

KEY = re.compile(r"[a-z][a-z0-9_]*")
INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
SHORT_ESCAPES = {'"': '"', "\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
SHORT_ESCAPED = {v: "\\" + k for k, v in SHORT_ESCAPES.items()}


def needs_u_escape(c):
    """§3.3: the characters written as \\u and four lowercase hex digits."""
    o = ord(c)
    return (o <= 0x1F or 0x7F <= o <= 0x9F or o in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF)) \
        and c not in SHORT_ESCAPED


class NotCanonical(Exception):
    pass


class BodyParser:
    """§3.2: mapping(M, n, first_inline) and value(x, n), read back."""

    def __init__(self, text):
        self.s, self.pos, self.nodes = text, 0, 0

    def fail(self, why):
        line = self.s.count("\n", 0, self.pos) + 1
        raise NotCanonical(f"{why} (body line {line})")

    def node(self, depth, collection):
        """§11: at most 4096 nodes; no collection deeper than 8."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail("more than 4096 nodes")
        if collection and depth > MAX_DEPTH:
            self.fail("nesting deeper than 8")

    def parse(self):
        top = self.mapping(0, False, 1)
        if self.pos != len(self.s):
            self.fail("not the canonical encoding")
        return top

    def key_at(self, p):
        """A key and its colon at p, or None."""
        m = KEY.match(self.s, p)
        return m if m and self.s.startswith(":", m.end()) else None

    def mapping(self, n, first_inline, depth):
        self.node(depth, True)
        out = {}
        while True:
            if not (first_inline and not out):
                if not (self.s.startswith(" " * n, self.pos) and self.key_at(self.pos + n)):
                    break
                self.pos += n
            m = self.key_at(self.pos)
            if not m:
                self.fail("expected a key")
            if m.group() in out:
                self.fail(f"key {m.group()!r} twice")
            self.pos = m.end() + 1
            out[m.group()] = self.value(n, depth + 1)
        if not out:
            self.fail("expected a mapping")
        return out

    def value(self, n, depth):
        s = self.s
        if s.startswith(" []\n", self.pos):
            self.node(depth, True)
            self.pos += 4
            return []
        if s.startswith(" {}\n", self.pos):
            self.node(depth, True)
            self.pos += 4
            return {}
        if s.startswith("\n", self.pos):
            self.pos += 1
            if s.startswith(" " * (n + 2) + "-", self.pos):
                return self.sequence(n, depth)
            if s.startswith(" " * (n + 2), self.pos) and self.key_at(self.pos + n + 2):
                return self.mapping(n + 2, False, depth)
            self.fail("expected a block at the next indentation")
        if not s.startswith(" ", self.pos):
            self.fail("expected a space after `:` or `-`")
        self.pos += 1
        x = self.scalar()
        self.node(depth, False)
        if not s.startswith("\n", self.pos):
            self.fail("expected the end of the line after a scalar")
        self.pos += 1
        return x

    def sequence(self, n, depth):
        self.node(depth, True)
        items, dash = [], " " * (n + 2) + "-"
        while self.s.startswith(dash, self.pos):
            self.pos += len(dash)
            if self.s.startswith(" ", self.pos) and self.key_at(self.pos + 1):
                self.pos += 1
                items.append(self.mapping(n + 4, True, depth + 1))
            else:
                items.append(self.value(n + 2, depth + 1))
        return items

    def scalar(self):
        s, p = self.s, self.pos
        if s.startswith('"', p):
            return self.string()
        if s.startswith("true", p):
            self.pos += 4
            return True
        if s.startswith("false", p):
            self.pos += 5
            return False
        m = INTEGER.match(s, p)
        if not m or m.group() == "-0":
            self.fail("not a canonical scalar (strings are double-quoted)")
        value = int(m.group())
        if not -(2**63) <= value <= 2**64 - 1:
            self.fail("an integer out of range")
        self.pos = m.end()
        return value

    def string(self):
        s, out = self.s, []
        self.pos += 1
        while True:
            if self.pos >= len(s) or s[self.pos] == "\n":
                self.fail("an unterminated string")
            c = s[self.pos]
            if c == '"':
                self.pos += 1
                return "".join(out)
            if c == "\\":
                e = s[self.pos + 1: self.pos + 2]
                if e in SHORT_ESCAPES:
                    out.append(SHORT_ESCAPES[e])
                    self.pos += 2
                    continue
                digits = s[self.pos + 2: self.pos + 6]
                if e != "u" or not re.fullmatch(r"[0-9a-f]{4}", digits) or not needs_u_escape(chr(int(digits, 16))):
                    self.fail("an escape that is not canonical")
                out.append(chr(int(digits, 16)))
                self.pos += 6
                continue
            if c in SHORT_ESCAPED or needs_u_escape(c):
                self.fail(f"character U+{ord(c):04X} must be escaped")
            out.append(c)
            self.pos += 1


def emit_string(s):
    """§3.3."""
    return '"' + "".join(SHORT_ESCAPED.get(c) or (f"\\u{ord(c):04x}" if needs_u_escape(c) else c) for c in s) + '"'


def emit_scalar(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    return emit_string(x)


def emit_mapping(m, n, first_inline, out):
    """§3.2 mapping(M, n, first_inline)."""
    for i, (k, v) in enumerate(m.items()):
        if not (i == 0 and first_inline):
            out.append(" " * n)
        out.append(k + ":")
        emit_value(v, n, out)


def emit_value(x, n, out):
    """§3.2 value(x, n)."""
    if isinstance(x, list):
        if not x:
            out.append(" []\n")
            return
        out.append("\n")
        for item in x:
            out.append(" " * (n + 2) + "-")
            if isinstance(item, dict) and item:
                out.append(" ")
                emit_mapping(item, n + 4, True, out)
            else:
                emit_value(item, n + 2, out)
    elif isinstance(x, dict):
        if not x:
            out.append(" {}\n")
            return
        out.append("\n")
        emit_mapping(x, n + 2, False, out)
    else:
        out.append(" " + emit_scalar(x) + "\n")


def encode_body(top):
    out = []
    emit_mapping(top, 0, False, out)
    return "".join(out)


# ---------------------------------------------------------------------------
# §4 Fields: the JSON Schemas of schema/, read as they are (the subset of
# draft 2020-12 they use), plus the rules between fields the schemas cannot
# state.

IGNORED_KEYWORDS = {"$schema", "$id", "$defs", "title", "description", "examples", "then"}


def json_equal(a, b):
    """JSON equality: true is not 1, "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def json_type(x, name):
    return {
        "string": isinstance(x, str),
        "integer": type(x) is int,
        "boolean": isinstance(x, bool),
        "array": isinstance(x, list),
        "object": isinstance(x, dict),
    }[name]


class Schemas:
    """The schemas of schema/*.json, by kind (§4: they are normative for fields)."""

    def __init__(self, folder):
        self.docs = {p.name: json.loads(p.read_text("utf-8")) for p in sorted(Path(folder).glob("*.json"))}
        self.kinds = {name[:-5]: doc for name, doc in self.docs.items() if name != "common.json"}
        self.regexes = {}

    def regex(self, pattern):
        """An ECMA-262 pattern for Python's re: `$` anchors at the very end (\\Z)."""
        if pattern not in self.regexes:
            translated = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
            self.regexes[pattern] = re.compile(translated)
        return self.regexes[pattern]

    def resolve(self, ref, doc):
        file, _, pointer = ref.partition("#")
        doc = file or doc
        node = self.docs[doc]
        for part in filter(None, pointer.split("/")):
            node = node[part]
        return node, doc

    def check(self, kind, value):
        """The first schema error of a body of `kind`, or None."""
        return self.validate(value, self.kinds[kind], f"{kind}.json", "")

    def validate(self, x, schema, doc, where):
        here = where or "the body"
        for key, arg in schema.items():
            err = None
            if key in IGNORED_KEYWORDS:
                continue
            elif key == "$ref":
                target, target_doc = self.resolve(arg, doc)
                err = self.validate(x, target, target_doc, where)
            elif key == "type":
                err = None if json_type(x, arg) else f"{here}: not of type {arg}"
            elif key == "const":
                err = None if json_equal(x, arg) else f"{here}: must be {json.dumps(arg)}"
            elif key == "enum":
                err = None if any(json_equal(x, a) for a in arg) else f"{here}: not one of {json.dumps(arg)}"
            elif key == "pattern":
                if isinstance(x, str) and not self.regex(arg).search(x):
                    err = f"{here}: does not match the pattern {arg!r}"
            elif key in ("minLength", "maxLength"):
                if isinstance(x, str) and (len(x) < arg if key == "minLength" else len(x) > arg):
                    err = f"{here}: {len(x)} characters ({key} {arg})"
            elif key in ("minimum", "maximum"):
                if type(x) is int and (x < arg if key == "minimum" else x > arg):
                    err = f"{here}: {x} is out of range ({key} {arg})"
            elif key in ("minItems", "maxItems"):
                if isinstance(x, list) and (len(x) < arg if key == "minItems" else len(x) > arg):
                    err = f"{here}: {len(x)} items ({key} {arg})"
            elif key == "uniqueItems":
                if arg and isinstance(x, list):
                    seen = [json.dumps(i, sort_keys=True) for i in x]
                    err = f"{here}: an item appears twice" if len(set(seen)) != len(seen) else None
            elif key == "items":
                if isinstance(x, list):
                    err = next(filter(None, (self.validate(item, arg, doc, f"{where}[{i}]")
                                             for i, item in enumerate(x))), None)
            elif key == "properties":
                if isinstance(x, dict):
                    err = next(filter(None, (self.validate(x[name], sub, doc, f"{where}.{name}".lstrip("."))
                                             for name, sub in arg.items() if name in x)), None)
            elif key == "required":
                missing = [name for name in arg if isinstance(x, dict) and name not in x]
                err = f"{here}: missing field {missing[0]!r}" if missing else None
            elif key == "additionalProperties":
                assert arg is False, "this verifier reads only additionalProperties: false"
                extra = [name for name in x if name not in schema.get("properties", {})] \
                    if isinstance(x, dict) else []
                err = f"{here}: unknown field {extra[0]!r}" if extra else None
            elif key == "dependentRequired":
                if isinstance(x, dict):
                    for name, needs in arg.items():
                        lacking = [n for n in needs if name in x and n not in x]
                        if lacking:
                            err = f"{here}: {name!r} without {lacking[0]!r}"
                            break
            elif key == "allOf":
                err = next(filter(None, (self.validate(x, sub, doc, where) for sub in arg)), None)
            elif key == "anyOf":
                if all(self.validate(x, sub, doc, where) for sub in arg):
                    err = f"{here}: none of the alternatives holds ({json.dumps(arg)})"
            elif key == "not":
                if self.validate(x, arg, doc, where) is None:
                    err = f"{here}: matches what is forbidden ({json.dumps(arg, ensure_ascii=True)})"
            elif key == "if":
                if self.validate(x, arg, doc, where) is None and "then" in schema:
                    err = self.validate(x, schema["then"], doc, where)
            else:
                raise NotImplementedError(f"schema keyword {key!r} in {doc}")
            if err:
                return err
        return None

    def key_order(self, kind, value):
        """§3.4: keys in the order of `properties`, also inside a sequence's mappings."""
        def check(x, schema, where):
            order = list(schema.get("properties", {}))
            ranks = [order.index(k) for k in x]
            if ranks != sorted(ranks):
                return f"{where}: keys not in the order of the schema's properties ({', '.join(order)})"
            for name, sub in schema.get("properties", {}).items():
                items = sub.get("items", {})
                if "properties" in items and isinstance(x.get(name), list):
                    for i, item in enumerate(x[name]):
                        err = isinstance(item, dict) and check(item, items, f"{name}[{i}]")
                        if err:
                            return err
            return None
        return check(value, self.kinds[kind], "the body")


def check_path(path):
    """§4.5: a normalised artifact path (the schema's pattern states it too)."""
    if any(c == "\\" or ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F for c in path):
        return "a control character or backslash"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "an empty, `.` or `..` component"
    return None


def field_rules(kind, f):
    """Rules between fields that the schemas cannot state (§4.4, §4.5, §4.6,
    §4.14, §4.17; §8.2 step 6). Returns the first broken rule, or None."""
    deps = f.get("depends_on", [])
    if kind == "task.create" and "parent" in f and f["parent"] in deps:
        return "`parent` also appears in `depends_on` (§4.4)"
    if kind == "task.edit":
        drops = f.get("drop_depends_on", [])
        if len(set(deps) | set(drops)) != len(deps) + len(drops):
            return "an id appears twice across `depends_on` and `drop_depends_on` (§4.6)"
        if "parent" in f and f["parent"] in deps:
            return "`parent` also appears in `depends_on` (§4.6)"
        if f.get("parent") == f["task"] or f["task"] in deps:
            return "the edit names the edited task as its parent or dependency (§4.6)"
    if kind == "msg.send":
        if f["channel"].startswith("dm/"):
            a, b = f["channel"][3:].split("+")
            if not a.encode() < b.encode():
                return "the two names of a direct conversation must differ and be sorted (§4.14)"
        mentions = [m.encode() for m in f.get("mentions", [])]
        if any(x >= y for x, y in zip(mentions, mentions[1:])):
            return "`mentions` not sorted (§4.14)"
    if kind == "msg.ack":
        items = f["items"]
        if any(x >= y for x, y in zip(items, items[1:])):
            return "`items` not sorted (§4.17)"
    if kind == "crew.policy":
        for name in ("budgets", "grants"):
            actors = [e["actor"] for e in f.get(name, [])]
            if len(set(actors)) != len(actors):
                return f"`{name}` names an actor twice (§4.19)"
        for g in f.get("grants", []):
            ranks = [("release", "suspend").index(p) for p in g["powers"]]
            if ranks != sorted(set(ranks)):
                return "a grant's `powers` not sorted, each once (§4.19)"
    if kind == "path.reserve":
        paths = [p.encode() for p in f["paths"]]
        if any(x >= y for x, y in zip(paths, paths[1:])):
            return "`paths` not sorted, each once (§4.22)"
        for p in f["paths"]:
            why = check_path(p)
            if why:
                return f"reserved path {p!r} is not normalised: {why} (§4.22)"
    if kind == "task.usage" and not ({"tokens", "cost", "seconds"} & set(f)):
        return "a usage report names none of `tokens`, `cost`, `seconds` (§4.20)"
    if kind == "supervise.step" and ("task" in f) != (f["flag"] in ("dead-holder", "stalled", "over-budget")):
        return "`task` is present exactly for the flags about a held task (§4.21)"
    if kind == "receipt":
        for a in f.get("artifacts", []):
            why = check_path(a["path"])
            if why:
                return f"artifact path {a['path']!r} is not normalised: {why} (§4.5)"
    return None


def decode_body(body, kind, schemas):
    """§8.2 steps 4-7: the strict parse, the header keys, the kind's fields, the
    key order. Returns the fields; raises Refusal (offset relative to the body)."""
    try:
        fields = BodyParser(body.decode("utf-8")).parse()
    except NotCanonical as e:
        raise Refusal("3", f"the body is not canonical: {e}") from None
    except UnicodeDecodeError:
        raise Refusal("2", "the body is not UTF-8") from None
    if list(fields)[:4] != ["v", "kind", "author", "at"]:
        raise Refusal("8.2 step 5", "the body does not start with v, kind, author, at")
    if fields["kind"] not in schemas.kinds:
        raise Refusal("4.1", f"unknown record kind {fields['kind']!r}")
    if fields["kind"] != kind:
        raise Refusal("8.2 step 5", f"a {fields['kind']} body checked as a {kind}")
    err = schemas.check(kind, fields)
    if err:
        raise Refusal("4", f"{kind}: {err} (schema/{kind}.json)")
    err = field_rules(kind, fields)
    if err:
        raise Refusal("4", f"{kind}: {err}")
    err = schemas.key_order(kind, fields)
    if err:
        raise Refusal("3.4", f"{kind}: {err}")
    if encode_body(fields).encode() != body:  # the parser reads only canonical text
        raise Refusal("3", "the body is not the canonical encoding of its value")
    return fields


# ---------------------------------------------------------------------------
# §7 The layout of the branch

ATTRIBUTES = ".gitattributes"
ATTRIBUTES_CONTENT = b"* -text\n*.yaml merge=crew\n"
MANIFEST = "CREW.yaml"


def is_channel(ch):
    """§4.14: a channel name, dm/<a>+<b> sorted, or task/<id>."""
    if ACTOR_NAME.fullmatch(ch):
        return True
    if ch.startswith("dm/") and ch.count("+") == 1:
        a, b = ch[3:].split("+")
        return bool(ACTOR_NAME.fullmatch(a) and ACTOR_NAME.fullmatch(b)) and a.encode() < b.encode()
    return ch.startswith("task/") and bool(HEX64.fullmatch(ch[5:]))


def is_date(text, with_day):
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})" if with_day else r"([0-9]{4})-([0-9]{2})", text)
    if not m:
        return False
    y, mo = int(m.group(1)), int(m.group(2))
    return valid_date(y, mo, int(m.group(3))) if with_day else 1 <= mo <= 12


def in_layout(path):
    """§7: is `path` one of the paths a branch may hold?"""
    parts = path.split("/")
    if path in (ATTRIBUTES, MANIFEST):
        return True
    if not parts[-1].endswith(".yaml"):
        return False
    stem = parts[-1][:-5]
    if parts[0] == "actors" and len(parts) == 2:
        return bool(ACTOR_NAME.fullmatch(stem))
    if parts[0] in ("tasks", "reservations") and len(parts) == 3:
        return bool(HEX64.fullmatch(stem)) and parts[1] == stem[:2]
    if parts[0] == "channels" and len(parts) >= 4:
        return is_channel("/".join(parts[1:-2])) and is_date(parts[-2], True) and bool(ACTOR_NAME.fullmatch(stem))
    if parts[0] == "acks" and len(parts) == 3:
        return bool(ACTOR_NAME.fullmatch(parts[1])) and is_date(stem, False)
    return False


def place_of(r):
    """§7: the one file a record belongs to, decided by the record alone."""
    f = r.fields
    if r.kind in ("crew.genesis", "crew.repair", "crew.policy"):
        return MANIFEST
    if r.kind in ("path.reserve", "path.release"):
        rid = r.id if r.kind == "path.reserve" else f["reservation"]
        return f"reservations/{rid[:2]}/{rid}.yaml"
    if r.kind == "supervise.step":
        if "task" in f:
            return f"tasks/{f['task'][:2]}/{f['task']}.yaml"
        return f"actors/{f['actor']}.yaml"
    if r.kind.startswith("actor."):
        return f"actors/{f['name']}.yaml"
    if r.kind == "task.create":
        return f"tasks/{r.id[:2]}/{r.id}.yaml"
    if r.kind in TASK_KINDS:
        return f"tasks/{f['task'][:2]}/{f['task']}.yaml"
    if r.kind in ("msg.send", "msg.join", "msg.leave"):
        return f"channels/{f['channel']}/{r.at_text[:10]}/{r.author}.yaml"
    if r.kind == "msg.ack":
        return f"acks/{r.author}/{r.at_text[:7]}.yaml"
    return f"refs/crew/live/{r.author}/{f['session']}"  # live.beat: never a file of the branch


# ---------------------------------------------------------------------------
# §8.2 Each log file: steps 3-8 for one record


def check_record(r, ws, path, schemas):
    """§8.2 steps 3-8 for a framed record with its id; fills in r.fields."""
    if not verify_strict(bytes.fromhex(r.key), bytes.fromhex(r.sig), record_message(ws, r.kind, r.body)):
        raise Refusal("5.3", "the signature does not verify (strict ed25519)", offset=r.offset, record=r.id)
    try:
        r.fields = decode_body(r.body, r.kind, schemas)
    except Refusal as e:
        raise e.place(offset=r.offset, record=r.id) from None
    r.path = path
    if path is not None and place_of(r) != path:
        raise Refusal("7", f"misplaced: a {r.kind} record belongs in {place_of(r)}", record=r.id)


# ---------------------------------------------------------------------------
# §7.1 Git objects, read with the git CLI and parsed strictly

TREE_MODES = {b"100644", b"100755", b"120000", b"40000", b"160000"}
IDENT_SECONDS = re.compile(r"0|[1-9][0-9]*")
IDENT_ZONE = re.compile(r"[+-][0-9]{4}")


class Git:
    """Raw objects of a repository through `git cat-file --batch`."""

    def __init__(self, repo):
        env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
        self.repo, self.env = repo, env
        self.proc = subprocess.Popen(["git", "-C", repo, "cat-file", "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)

    def rev_parse(self, ref):
        out = subprocess.run(["git", "-C", self.repo, "rev-parse", "--verify", "-q", ref + "^{commit}"],
                             capture_output=True, env=self.env)
        return out.stdout.decode().strip() if out.returncode == 0 else None

    def read(self, oid):
        """(type, content) of an object; type is 'missing' when git has none."""
        self.proc.stdin.write(oid.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) != 3:
            return "missing", b""
        size = int(header[2])
        content = self.proc.stdout.read(size)
        self.proc.stdout.read(1)
        return header[1].decode(), content


def git_name_key(name, mode):
    """§7.1: git sorts a directory's name as if it ended in `/`."""
    return name + b"/" if mode == b"40000" else name


def parse_tree(oid, raw, below_root):
    """§7.1: a tree exactly as git writes it; [(mode, name, id)]. A tree below
    the root (a directory) holds at least one entry (§7, §7.1)."""
    def bad(why):
        raise Refusal("7.1", f"malformed tree {oid}: {why}")

    if not raw and below_root:
        bad("an empty tree below the root (a directory with no files)")
    entries, names, pos, last = [], set(), 0, None
    while pos < len(raw):
        space = raw.find(b" ", pos)
        nul = raw.find(b"\x00", space + 1) if space >= 0 else -1
        if space < 0 or nul < 0 or nul + 21 > len(raw):
            bad("a truncated entry")
        mode, name, obj = raw[pos:space], raw[space + 1:nul], raw[nul + 1:nul + 21]
        if mode not in TREE_MODES:
            bad(f"mode {mode.decode('latin-1')!r}")
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            bad("a name that is not UTF-8")
        if not name or b"/" in name or name in (b".", b"..") or name.lower() == b".git":
            bad(f"the name {name!r}")
        if obj == bytes(20):
            bad("an all-zero object id")
        if name in names:
            bad(f"the name {name.decode()!r} twice")
        key = git_name_key(name, mode)
        if last is not None and not last < key:
            bad(f"entries not sorted at {name.decode()!r}")
        names.add(name)
        last = key
        entries.append((mode.decode(), name.decode(), obj.hex()))
        pos = nul + 21
    return entries


@dataclass
class Commit:
    oid: str
    tree: str
    parents: list
    author: tuple  # (name, email)
    committer: tuple
    message: str


def parse_ident(oid, text):
    """§7.1: `<name> <<email>> <seconds> <zone>`; returns (name, email)."""
    name, sep, rest = text.partition(" <")
    email, sep2, rest = rest.partition("> ")
    seconds, sep3, zone = rest.partition(" ")
    if not (sep and sep2 and sep3) or not name or any(c in name + email for c in "<>"):
        raise Refusal("7.1", f"malformed commit {oid}: the identity {text!r}")
    if not IDENT_SECONDS.fullmatch(seconds) or int(seconds) > 2**63 - 1 or not IDENT_ZONE.fullmatch(zone):
        raise Refusal("7.1", f"malformed commit {oid}: the time of {text!r}")
    return name, email


def parse_commit(oid, raw):
    """§7.1: a commit exactly as git-crew writes it."""
    def bad(why):
        raise Refusal("7.1", f"malformed commit {oid}: {why}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        bad("not UTF-8")
    head, sep, message = text.partition("\n\n")
    if not sep:
        bad("no empty line after the headers")
    lines = head.split("\n")
    if not lines[0].startswith("tree ") or not re.fullmatch(r"[0-9a-f]{40}", lines[0][5:]):
        bad("no `tree` line first")
    parents, i = [], 1
    while i < len(lines) and lines[i].startswith("parent "):
        if not re.fullmatch(r"[0-9a-f]{40}", lines[i][7:]):
            bad(f"the header {lines[i]!r}")
        parents.append(lines[i][7:])
        i += 1
    if len(lines) != i + 2 or not lines[i].startswith("author ") or not lines[i + 1].startswith("committer "):
        bad("headers other than tree, parent, author, committer")
    author = parse_ident(oid, lines[i][7:])
    committer = parse_ident(oid, lines[i + 1][10:])
    return Commit(oid, lines[0][5:], parents, author, committer, message)


# ---------------------------------------------------------------------------
# §8.4 Commit identity and messages

class Escapes:
    """The characters `q` writes as \\u{...}: schema/debug-escapes.txt (§8.4)."""

    def __init__(self, path):
        self.starts, self.ends = [], []
        for line in Path(path).read_text("utf-8").splitlines():
            if line and not line.startswith("#"):
                first, _, last = line.partition("..")
                self.starts.append(int(first, 16))
                self.ends.append(int(last or first, 16))

    def __contains__(self, c):
        i = bisect.bisect_right(self.starts, ord(c)) - 1
        return i >= 0 and ord(c) <= self.ends[i]


def q(s, escapes):
    """§8.4: a string as Rust's Debug formatting writes it."""
    short = {"\0": "\\0", "\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
    return '"' + "".join(short.get(c) or (f"\\u{{{ord(c):x}}}" if c in escapes else c) for c in s) + '"'


def with_text(head, text, escapes):
    """§8.4 with(h, t): the head, and the first non-blank line of the text."""
    if text is None:
        return head
    line = next((trim(x) for x in text.split("\n") if trim(x)), None)
    if line is None:
        return head
    shown = line[:60]
    if len(line) > 60 or "\n" in trim(text):
        shown += "\u2026"
    return f"{head}: {q(shown, escapes)}"


def summary(r, escapes):
    """§8.4: the summary of one record, by kind."""
    f, k = r.fields, r.kind
    t8 = f.get("task", "")[:8]

    def w(head, name):
        return with_text(head, f.get(name), escapes)

    if k == "crew.genesis":
        return "create workspace " + q(f["workspace"], escapes)
    if k == "crew.repair":
        return w(f"repair the branch: {f['replaces'][:12]} replaced, on {f['base'][:12]}, "
                 f"{f['dropped']} record(s) left out", "reason")
    if k == "actor.admit":
        return f"admit {f['name']} as {f['role']}" + (f" (owner {f['owner']})" if "owner" in f else "")
    if k == "actor.suspend":
        return w(f"suspend {f['name']}", "reason")
    if k == "actor.resume":
        return f"resume {f['name']}"
    if k == "actor.rotate":
        return f"rotate the key of {f['name']} to {hashlib.sha256(bytes.fromhex(f['key'])).hexdigest()[:16]}"
    if k == "actor.revoke":
        return w(f"revoke the key of {f['name']}", "reason")
    if k == "actor.update":
        parts = ([f"role {f['role']}"] if "role" in f else []) + ([f"owner {f['owner']}"] if "owner" in f else [])
        return f"update {f['name']}: " + ", ".join(parts)
    if k == "live.beat":
        state = "ended" if f.get("ended") else "listening" if f.get("listening") else "alive"
        return f"session {f['session']} on {f['host']} (pid {f['pid']}) {state}"
    if k == "task.create":
        return q(f["title"], escapes)
    if k == "task.edit":
        names = [n for n in ("title", "body", "labels", "priority", "parent") if n in f]
        if "depends_on" in f or "drop_depends_on" in f:
            names.append("depends_on")
        return f"edit {t8}: " + ", ".join(names)
    if k == "task.claim":
        return f"claim {t8} for {f['lease']}s" + (", offline" if f.get("offline") else "")
    if k == "task.release":
        return w(f"release {t8}", "reason")
    if k == "task.handoff":
        lease = f" for {f['lease']}s" if "lease" in f else ""
        return w(f"hand {t8} to {f['to']}{lease}", "note")
    if k == "task.comment":
        return w(f"comment on {t8}", "text")
    if k == "task.block":
        return w(f"block {t8}", "reason")
    if k == "task.unblock":
        return f"unblock {t8}"
    if k == "task.done":
        return w(f"done {t8}", "summary")
    if k == "task.cancel":
        return w(f"cancel {t8}", "reason")
    if k == "task.reopen":
        return w(f"reopen {t8}", "reason")
    if k == "receipt":
        if "summary" in f:
            what = q(f["summary"], escapes)
        elif "commits" in f:
            what = "commit " + f["commits"][0][:12]
        else:
            what = f"{len(f['artifacts'])} artifact(s)"
        return f"{f['class']} receipt on {t8}: {what}"
    if k == "msg.send":
        ch = f["channel"]
        if ch.startswith("dm/"):
            a, b = ch[3:].split("+")
            head = f"to {b}" if r.author == a else f"to {a}"
        elif ch.startswith("task/"):
            head = f"on {ch[5:13]}"
        else:
            head = f"#{ch}"
        return w(head, "text")
    if k in ("msg.join", "msg.leave"):
        return f"{k[4:]} #{f['channel']}"
    if k == "msg.ack":
        return f"read {f['items'][0][:8]}" if len(f["items"]) == 1 else f"read {len(f['items'])} items"
    if k == "crew.policy":
        grants = ["{} may {}".format(g["actor"], " and ".join(g["powers"])) for g in f.get("grants", [])]
        return "set the fleet policy" + (": " + "; ".join(grants) if grants else "")
    if k == "task.usage":
        used = [f"{f['tokens']} tokens"] if "tokens" in f else []
        used += [f"cost {f['cost']}"] if "cost" in f else []
        used += [f"{f['seconds']}s"] if "seconds" in f else []
        return f"usage on {t8}: " + ", ".join(used)
    if k == "path.reserve":
        paths = ", ".join(q(p, escapes) for p in f["paths"])
        return f"reserve {paths} for {f['lease']}s" + (f" with {t8}" if "task" in f else "")
    if k == "path.release":
        return f"release reservation {f['reservation'][:8]}"
    if k == "supervise.step":
        on = f" on {t8}" if "task" in f else ""
        return w(f"{f['step']} {f['actor']} ({f['flag']}{on})", "why")
    raise AssertionError(k)


def commit_message(records, escapes):
    """§8.4 message(R)."""
    rs = sorted(records, key=Record.sort_key)
    lines = [f"{r.kind} {r.id[:8]} {summary(r, escapes)}" for r in rs]
    if len(lines) == 1:
        return lines[0] + "\n"
    return f"{lines[0]} (+{len(lines) - 1} more)\n\n" + "\n".join(lines) + "\n"


def check_commit_identity(c, added, escapes):
    """§8.4: author, committer and message derived from the records added."""
    def bad(why):
        raise Refusal("8.4", why, commit=c.oid)

    if len(c.parents) >= 2:
        if added:
            bad(f"a merge commit adds {len(added)} record(s)")
        if c.message != "Merge crew records\n":
            bad(f"a merge commit's message is not `Merge crew records`: {c.message!r}")
        for who, (name, email) in (("author", c.author), ("committer", c.committer)):
            if not ACTOR_NAME.fullmatch(name) or email != f"{name}@crew":
                bad(f"a merge commit's {who} is {name} <{email}>, not N <N@crew> for an actor name N")
        return
    if not added:
        bad("the commit adds no record")
    authors = sorted({r.author for r in added})
    if len(authors) != 1:
        bad(f"the records the commit adds have several authors: {', '.join(authors)}")
    a = authors[0]
    for who, (name, email) in (("author", c.author), ("committer", c.committer)):
        if (name, email) != (a, f"{a}@crew"):
            bad(f"the commit's {who} is {name} <{email}>, not {a} <{a}@crew>")
    expected = commit_message(added, escapes)
    if c.message != expected:
        bad(f"the commit message is {c.message!r}, not {expected!r}")


# ---------------------------------------------------------------------------
# §9 Authorization: the fold


class Refused(Exception):
    """The record does not count and is a verification failure."""


class Void(Exception):
    """The record does not count, and is not a failure (it lost a race)."""


@dataclass
class Actor:
    role: str
    key: str
    owner: str | None
    suspended: bool = False  # inside a suspension stretch (rule 5)
    revoked: bool = False  # inside a revocation stretch (rule 8)


@dataclass
class Task:
    parent: str | None
    depends_on: list
    creator: str = ""
    holder: str | None = None
    lease: int = 0  # seconds
    expiry: int = 0  # ms
    blocked: bool = False
    done: bool = False
    cancelled: bool = False
    closed_by: str | None = None  # the author of the task.done or task.cancel that closed it
    past_holders: set = field(default_factory=set)  # every actor that has held it
    labels: list = field(default_factory=list)

    def closed(self):
        """§9.2: why a record that needs an open task is void, or None."""
        return "the task is done (§9.2)" if self.done else "the task is cancelled (§9.2)" if self.cancelled else None


@dataclass
class Reservation:
    actor: str
    paths: list
    task: str | None
    lease: int  # seconds
    expiry: int  # ms
    released: bool = False


def overlap(a, b):
    """§9.2.2: two reserved paths overlap if one is the other or lies under it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


@dataclass
class Window:
    """§9.1 rule 5: the records of `name` a counted suspension did not include."""

    name: str
    at: tuple
    seen: tuple | None  # (seen_at, seen id), or None without `seen`

    def covers(self, r):
        return r.author == self.name and r.at < self.at and (self.seen is None or (r.at, r.id) > self.seen)


A2_KINDS = {"actor.admit", "actor.suspend", "actor.resume", "actor.rotate", "actor.revoke", "actor.update",
            "task.edit", "msg.join", "msg.leave", "crew.repair", "crew.policy", "path.reserve", "path.release"}


class Fold:
    """§9: apply every record in (at, id) order; each counts, is void or is refused."""

    def __init__(self, ws, windows=()):
        self.ws = ws
        self.windows = list(windows)
        self.genesis = False
        self.actors = {}
        self.keys_ever = set()  # every key any actor has had (§5.4 check 3)
        self.tasks = {}
        self.receipts = {}  # counted receipt id -> its task
        self.policy = {}  # the fields of the last counted crew.policy (§9.2.1)
        self.reservations = {}  # counted path.reserve id -> Reservation (§9.2.2)
        self.void_reservations = set()
        # What void records would have made (rule 14): task and receipt ids,
        # admitted names, and (name, key) for the keys of void rotations.
        # Folding in order, each is in its set exactly when a void record that
        # makes it sorts before the record being judged (of several, the
        # earliest decides).
        self.void_tasks, self.void_receipts, self.void_admits = set(), set(), set()
        self.void_rotations = set()
        self.verdicts = {}  # record id -> ("counts" | "void" | "refused", why)
        self.suspensions = []  # Windows of the suspensions that counted

    def run(self, records):
        for r in sorted(records, key=Record.sort_key):
            try:
                self.judge(r)
                self.verdicts[r.id] = ("counts", "")
            except Refused as e:
                self.verdicts[r.id] = ("refused", str(e))
            except Void as e:
                self.verdicts[r.id] = ("void", str(e))
                if r.kind == "task.create":
                    self.void_tasks.add(r.id)
                elif r.kind == "receipt":
                    self.void_receipts.add(r.id)
                elif r.kind == "path.reserve":
                    self.void_reservations.add(r.id)
                elif r.kind == "actor.admit":
                    self.void_admits.add(r.fields["name"])
                elif r.kind == "actor.rotate":
                    self.void_rotations.add((r.fields["name"], r.fields["key"]))
        return self

    # -- rule 14: references, and void that cascades --------------------------

    def actor(self, name, what):
        if name in self.actors:
            return self.actors[name]
        if name in self.void_admits:
            raise Void(f"{what} {name!r} rests on a void admission (rule 14)")
        raise Refused(f"{what} {name!r} is not admitted before it (rule 14)")

    def task(self, tid, what="task"):
        if tid in self.tasks:
            return self.tasks[tid]
        if tid in self.void_tasks:
            raise Void(f"{what} {tid[:8]} rests on a void task.create (rule 14)")
        raise Refused(f"{what} {tid} does not exist before it (rule 14)")

    def signing_key(self, r, author):
        """Rule 3 (rule 14 for a key): the author's key at this point, else void
        if a void actor.rotate of the author to that key sorts before it."""
        if r.key == author.key:
            return
        if (r.author, r.key) in self.void_rotations:
            raise Void("signed with the key of a void actor.rotate of its author (rules 3 and 14)")
        raise Refused("not signed with its author's key at this point (rule 3, §9.4)")

    @staticmethod
    def held(t, ms):
        return t.holder is not None and ms < t.expiry

    def renew(self, t, r):
        """§9.2: a counted record of the holder while it holds the task renews the lease."""
        if t.holder == r.author and self.held(t, r.at[0]):
            t.expiry = r.at[0] + t.lease * 1000

    # -- the common checks (§9 order of the checks) ----------------------------

    def judge(self, r):
        if r.kind == "crew.genesis":
            return self.rule1_genesis(r)
        if not self.genesis:
            raise Refused("the genesis has not counted before it (rule 2)")
        author = self.actor(r.author, "its author")  # rule 3
        self.signing_key(r, author)
        if author.suspended:
            raise Void("its author is suspended (rule 5)")
        if author.revoked:
            raise Void("its author's key is revoked (rule 8)")
        if any(w.covers(r) for w in self.windows):
            raise Void("in the window of a suspension that did not include it (rule 5)")
        if r.kind in TASK_KINDS and r.fields["task"] in self.tasks:
            t = self.tasks[r.fields["task"]]
            self.election_guard(r, author, t.labels)
            if r.kind == "task.edit" and "labels" in r.fields:
                had, has = ELECTION_LABEL in t.labels, ELECTION_LABEL in r.fields["labels"]
                if had != has and author.role != "admin":
                    raise Refused("only an admin gives or takes the election label (§9.2.1)")
        getattr(self, "kind_" + r.kind.replace(".", "_"))(r, author)

    def rule1_genesis(self, r):
        if self.genesis:
            raise Refused("a second genesis (rule 1)")
        if r.id != self.ws.hex():
            raise Refused("not the workspace's genesis (rule 1)")
        if r.fields["key"] != r.key:
            raise Refused("its `key` is not the key on its sig: line (rule 1)")
        self.genesis = True
        self.actors[r.author] = Actor("admin", r.key, None)
        self.keys_ever.add(r.key)

    # -- §9.1 identities -------------------------------------------------------

    def fresh_key(self, f):
        """§5.4 checks 1 and 3 (rules 4 and 7)."""
        if not usable_key(bytes.fromhex(f["key"])):
            raise Refused("its key is not a usable ed25519 key (§5.3 condition 1)")
        if f["key"] in self.keys_ever:
            raise Refused("its key is, or was, an actor's key (§5.4)")

    def kind_actor_admit(self, r, author):  # rule 4
        f = r.fields
        if author.role != "admin":
            raise Refused("only an admin admits (rule 4)")
        if f["name"] in self.actors:
            raise Refused(f"{f['name']!r} is already admitted (rule 4)")
        if "owner" in f:
            owner = self.actor(f["owner"], "its owner")
            if owner.role == "agent":
                raise Refused("its owner is an agent (rule 4)")
        self.fresh_key(f)
        if "proof" in f and not verify_proof(self.ws, f["name"], f["key"], f["proof"]):
            raise Refused("its proof of possession does not verify (§5.4)")
        self.actors[f["name"]] = Actor(f["role"], f["key"], f.get("owner"))
        self.keys_ever.add(f["key"])

    def controls(self, r, author, target):
        return author.role == "admin" or target.owner == r.author

    def election_guard(self, r, author, labels):
        """§9.2.1: the supervisors' election task is written about only by an
        admin or an actor the policy in force grants a power."""
        if ELECTION_LABEL not in labels or author.role == "admin":
            return
        if not any(g["actor"] == r.author for g in self.policy.get("grants", [])):
            raise Refused("only admins and supervisors write about the election task (§9.2.1)")

    def supervises(self, name, target, power):
        """§9.2.1: `name` may use `power` on `target`, an agent the policy grants nothing."""
        agent = self.actors.get(target)
        granted_target = any(g["actor"] == target for g in self.policy.get("grants", []))
        return agent is not None and agent.role == "agent" and not granted_target and self.granted(name, power)

    def end_reservations(self, task):
        """§9.2.2: the reservations that follow `task` end with its holding."""
        for res in self.reservations.values():
            if res.task == task:
                res.released = True

    def granted(self, name, power):
        """§9.2.1: the policy in force grants `name` the power."""
        return any(g["actor"] == name and power in g["powers"] for g in self.policy.get("grants", []))

    def kind_actor_suspend(self, r, author):  # rule 5
        f = r.fields
        target = self.actor(f["name"], "the actor")
        supervisor = self.supervises(r.author, f["name"], "suspend")
        if not (self.controls(r, author, target) or supervisor):
            raise Refused("only an admin or the actor's owner suspends it (rule 5)")
        if f["name"] == r.author:
            raise Refused("an actor cannot suspend itself (rule 5)")
        target.suspended = True
        seen = (parse_stamp(f["seen_at"]), f["seen"]) if "seen" in f else None
        self.suspensions.append(Window(f["name"], r.at, seen))

    def kind_actor_resume(self, r, author):  # rule 6
        target = self.actor(r.fields["name"], "the actor")
        if not self.controls(r, author, target):
            raise Refused("only an admin or the actor's owner resumes it (rule 6)")
        if not target.suspended:
            raise Void("the actor is not suspended (rule 6)")
        target.suspended = False

    def kind_actor_rotate(self, r, author):  # rule 7
        f = r.fields
        target = self.actor(f["name"], "the actor")
        if not (r.author == f["name"] or author.role == "admin"):
            raise Refused("only the actor itself or an admin rotates its key (rule 7)")
        self.fresh_key(f)
        if not verify_proof(self.ws, f["name"], f["key"], f["proof"]):
            raise Refused("its proof of possession does not verify (§5.4)")
        target.key = f["key"]
        target.revoked = False
        self.keys_ever.add(f["key"])

    def kind_actor_revoke(self, r, author):  # rule 8
        target = self.actor(r.fields["name"], "the actor")
        if not (author.role == "admin" or r.author == r.fields["name"]):
            raise Refused("only an admin or the actor itself revokes its key (rule 8)")
        target.revoked = True

    def kind_actor_update(self, r, author):  # rule 15
        f = r.fields
        if author.role != "admin":
            raise Refused("only an admin updates an actor (rule 15)")
        target = self.actor(f["name"], "the actor")
        if "owner" in f:
            if self.actor(f["owner"], "its owner").role == "agent":
                raise Refused("its owner is an agent (rule 15)")
            if f["owner"] == f["name"]:
                raise Refused("an actor cannot own itself (rule 15)")
        role = f.get("role", target.role)
        kept = target.owner if role == "agent" or "role" not in f else None
        owner = f.get("owner", kept)
        if role == "agent" and owner is None:
            raise Refused("an agent without an owner (rule 15)")
        if role == "agent" and any(a.role == "agent" and a.owner == f["name"] for a in self.actors.values()):
            raise Void(f"{f['name']!r} answers for agents (rule 15)")
        if target.role == "admin" and role != "admin":
            others = [n for n, a in self.actors.items()
                      if n != f["name"] and a.role == "admin" and not (a.suspended or a.revoked)]
            if not others:
                raise Void(f"{f['name']!r} is the last admin who may act (rule 15)")
        target.role, target.owner = role, owner

    def kind_live_beat(self, r, author):  # rule 9
        raise Refused("a heartbeat on the branch (rule 9)")

    def kind_crew_repair(self, r, author):  # rule 13
        if author.role != "admin":
            raise Refused("only an admin writes crew.repair (rule 13)")

    # -- §9.1 rules 10-12 and §9.2 the board -----------------------------------

    def kind_task_create(self, r, author):  # rule 10
        f = r.fields
        if "parent" in f:
            self.task(f["parent"], "parent")
        for d in f.get("depends_on", []):
            self.task(d, "dependency")
        self.election_guard(r, author, f.get("labels", []))
        self.tasks[r.id] = Task(f.get("parent"), list(f.get("depends_on", [])), creator=r.author,
                                labels=list(f.get("labels", [])))

    def depends(self, start, target):
        """Does `start` depend on `target`, directly or through other tasks?"""
        stack, seen = [start], set()
        while stack:
            tid = stack.pop()
            if tid == target:
                return True
            if tid not in seen and tid in self.tasks:
                seen.add(tid)
                stack.extend(self.tasks[tid].depends_on)
        return False

    def kind_task_edit(self, r, author):
        f = r.fields
        if "parent" in f:
            self.task(f["parent"], "parent")
        for d in f.get("depends_on", []):
            self.task(d, "dependency")
        t = self.task(f["task"])
        for d in f.get("depends_on", []):
            if self.depends(d, f["task"]):
                raise Void(f"the dependency {d[:8]} would close a cycle (§9.2)")
        p, seen = f.get("parent"), set()
        while p is not None and p not in seen:
            if p == f["task"]:
                raise Void("the parent is the edited task's descendant: a cycle (§9.2)")
            seen.add(p)
            p = self.tasks[p].parent if p in self.tasks else None
        self.renew(t, r)
        # Title, body, labels and priority change nothing that verification
        # judges; parent and dependencies decide later cycles.
        t.parent = f.get("parent", t.parent)
        t.labels = f.get("labels", t.labels)
        t.depends_on = [d for d in t.depends_on if d not in f.get("drop_depends_on", [])]
        t.depends_on += [d for d in f.get("depends_on", []) if d not in t.depends_on]

    def claim_rules(self, t, r, claimer):
        """§9.2: a claim's board rules, for `claimer` (a claim's author, an assignment's receiver)."""
        if t.closed():
            raise Void(t.closed())
        if t.blocked:
            raise Void("the task is blocked (§9.2)")
        if self.held(t, r.at[0]) and t.holder != claimer:
            holder = self.actors[t.holder]
            if not (holder.suspended or holder.revoked):
                raise Void(f"the task is held by {t.holder!r} (§9.2)")

    def kind_task_claim(self, r, author):
        t = self.task(r.fields["task"])
        self.claim_rules(t, r, r.author)
        if not (t.holder == r.author and self.held(t, r.at[0])):
            self.end_reservations(r.fields["task"])
        t.holder, t.lease = r.author, r.fields["lease"]
        t.expiry = r.at[0] + t.lease * 1000
        t.past_holders.add(r.author)

    def kind_task_release(self, r, author):
        t = self.task(r.fields["task"])
        forced = author.role == "admin" or (t.holder is not None and self.supervises(r.author, t.holder, "release"))
        if t.holder is None or not (t.holder == r.author or forced):
            raise Void("the author neither holds the task nor is an admin while it has a holder (§9.2)")
        t.holder = None
        self.end_reservations(r.fields["task"])

    def kind_task_handoff(self, r, author):
        f = r.fields
        t = self.task(f["task"])
        to = self.actor(f["to"], "the receiver")
        if f["to"] == r.author:
            raise Refused("a handoff to its own author (§9.2)")
        if not (t.holder == r.author and self.held(t, r.at[0])):
            if not (author.role == "admin" or to.owner == r.author):
                if r.author in t.past_holders:
                    raise Void("the author does not hold the task (§9.2)")
                raise Refused("neither its holder, nor an admin, nor the receiver's owner (§9.2)")
            # An assignment: a handoff from nobody, on a claim's terms.
            self.claim_rules(t, r, f["to"])
            if self.held(t, r.at[0]) and t.holder == f["to"] and not (to.suspended or to.revoked):
                raise Void(f"the task is held by {t.holder!r} already (§9.2)")
        self.renew(t, r)
        if "lease" in f:
            t.lease = f["lease"]
        elif t.holder is None:
            t.lease = 3600
        t.holder, t.expiry = f["to"], r.at[0] + t.lease * 1000
        t.past_holders.add(f["to"])

    def kind_task_comment(self, r, author):
        self.renew(self.task(r.fields["task"]), r)

    def kind_task_block(self, r, author):
        t = self.task(r.fields["task"])
        if t.closed():
            raise Void(t.closed())
        self.renew(t, r)
        t.blocked = True

    def kind_task_unblock(self, r, author):
        t = self.task(r.fields["task"])
        if not t.blocked:
            raise Void("the task is not blocked (§9.2)")
        self.renew(t, r)
        t.blocked = False

    def kind_task_done(self, r, author):
        f = r.fields
        t = self.task(f["task"])
        if "receipt" in f and self.receipts.get(f["receipt"]) != f["task"]:
            if f["receipt"] in self.void_receipts:
                raise Void(f"the receipt {f['receipt'][:8]} is void (rule 14)")
            raise Refused(f"the receipt {f['receipt']} did not count on this task before it (rule 14)")
        if t.closed():
            raise Void(t.closed())
        holds = t.holder == r.author and self.held(t, r.at[0])
        if not (holds or (author.role == "admin" and t.holder is not None)):
            raise Void("the author neither holds the task nor is an admin while it has a holder (§9.2)")
        t.done, t.holder, t.blocked, t.closed_by = True, None, False, r.author
        self.end_reservations(f["task"])

    def kind_task_cancel(self, r, author):
        t = self.task(r.fields["task"])
        if not (author.role in ("admin", "human") or t.creator == r.author):
            raise Refused("only an admin, a human or the task's creator cancels it (§9.2)")
        if t.closed():
            raise Void(t.closed())
        self.renew(t, r)
        t.cancelled, t.holder, t.blocked, t.closed_by = True, None, False, r.author
        self.end_reservations(r.fields["task"])

    def kind_task_reopen(self, r, author):
        t = self.task(r.fields["task"])
        if not t.closed():
            raise Void("the task is open (§9.2)")
        if not (author.role in ("admin", "human") or t.closed_by == r.author):
            raise Refused("only an admin, a human or who closed the task reopens it (§9.2)")
        self.renew(t, r)
        t.done, t.cancelled, t.closed_by = False, False, None

    def kind_receipt(self, r, author):  # rule 12
        t = self.task(r.fields["task"])
        self.renew(t, r)
        self.receipts[r.id] = r.fields["task"]

    # -- §9.3 messages ----------------------------------------------------------

    def kind_msg_send(self, r, author):
        f, ch = r.fields, r.fields["channel"]
        if ch.startswith("dm/"):
            a, b = ch[3:].split("+")
            if r.author not in (a, b):
                raise Refused("a direct message by neither party (§9.3)")
            self.actor(a, "the party")
            self.actor(b, "the party")
        elif ch.startswith("task/"):
            self.task(ch[5:], "the discussion's task")
        for name in f.get("mentions", []):
            self.actor(name, "the mention")

    # Membership and the inbox decide no verification (§9.3): a join, a leave
    # or an ack counts once the common checks pass.
    def kind_msg_join(self, r, author):
        pass

    def kind_msg_leave(self, r, author):
        pass

    def kind_msg_ack(self, r, author):
        pass

    # -- §9.2.2 path reservations ----------------------------------------------

    def reservation_holder(self, res, ms):
        """Who holds `res` at `ms`, or None once it has ended."""
        if res.released:
            return None
        if res.task is not None:
            t = self.tasks.get(res.task)
            if t is None or t.done or not self.held(t, ms):
                return None
            holder = t.holder
        else:
            if res.expiry <= ms:
                return None
            holder = res.actor
        a = self.actors[holder]
        return None if (a.suspended or a.revoked) else holder

    def kind_path_reserve(self, r, author):
        f, ms = r.fields, r.at[0]
        if "task" in f:
            t = self.task(f["task"])
            if not (t.holder == r.author and self.held(t, ms)):
                raise Void("the author does not hold the task it reserves for (§9.2.2)")
        renews = None
        for res in self.reservations.values():
            holder = self.reservation_holder(res, ms)
            if holder is None:
                continue
            if holder != r.author:
                if any(overlap(p, q) for p in res.paths for q in f["paths"]):
                    raise Void(f"a path overlaps a reservation {holder!r} holds (§9.2.2)")
            elif res.actor == r.author and res.paths == f["paths"] and res.task == f.get("task") and renews is None:
                renews = res
        if renews is not None:
            renews.lease, renews.expiry = f["lease"], ms + f["lease"] * 1000
        else:
            self.reservations[r.id] = Reservation(r.author, f["paths"], f.get("task"), f["lease"], ms + f["lease"] * 1000)

    def kind_path_release(self, r, author):
        rid = r.fields["reservation"]
        res = self.reservations.get(rid)
        if res is None:
            if rid in self.void_reservations:
                raise Void(f"the reservation {rid[:8]} rests on a void path.reserve (rule 14)")
            raise Refused(f"the reservation {rid} did not count before it (rule 14)")
        holder = self.reservation_holder(res, r.at[0])
        forced = author.role == "admin" or (holder is not None and self.supervises(r.author, holder, "release"))
        if holder is None or not (holder == r.author or forced):
            raise Void("the reservation has ended, or the author neither holds it nor may force it (§9.2.2)")
        res.released = True

    # -- §9.2.1 fleet control ---------------------------------------------------

    def kind_crew_policy(self, r, author):
        f = r.fields
        if author.role != "admin":
            raise Refused("only an admin sets the fleet policy (§9.2.1)")
        for e in f.get("budgets", []) + f.get("grants", []):
            self.actor(e["actor"], "the policy's actor")
        self.policy = f

    def kind_task_usage(self, r, author):
        self.renew(self.task(r.fields["task"]), r)

    def kind_supervise_step(self, r, author):
        f = r.fields
        self.actor(f["actor"], "the actor flagged")
        t = self.task(f["task"]) if "task" in f else None
        needs = {"requeue": "release", "suspend": "suspend"}.get(f["step"])
        powers = next((g["powers"] for g in self.policy.get("grants", []) if g["actor"] == r.author), [])
        if author.role != "admin" and not (needs in powers if needs else powers):
            raise Refused("a supervisor's step without the power the policy must grant it (§9.2.1)")
        if t is not None:
            self.renew(t, r)


def fold(ws, records):
    """§9.1 rule 5: two passes; the second with the windows of the suspensions
    that counted in the first."""
    first = Fold(ws).run(records)
    if not first.suspensions:
        return first
    return Fold(ws, first.suspensions).run(records)


def fold_refusal(r, why):
    return Refusal("9", f'{r.kind} by "{r.author}" does not count: {why}', record=r.id, path=r.path)


# ---------------------------------------------------------------------------
# §8 Verification of a branch


class Branch:
    """§8: verify the history of one branch, stopping at the first failure."""

    def __init__(self, repo, branch, schemas, escapes):
        self.git, self.branch = Git(repo), branch
        self.schemas, self.escapes = schemas, escapes
        self.commits = {}
        self.trees = {}  # tree id -> {path: (mode, blob id)} of the files below it
        self.logs = {}  # blob id -> its records
        self.records = {}  # record id -> Record, where it first appeared
        self.first_seen = {}  # record id -> commit where it first appeared
        self.added = {}  # commit -> the records it adds (§8.4)
        self.root = None  # the root commit, once met
        self.ws = None

    def object(self, oid, kind):
        typ, raw = self.git.read(oid)
        if typ != kind:
            raise Refusal("7.1", f"object {oid} is a {typ}, not a {kind}")
        return raw

    def history(self, tip):
        """Every commit, read strictly (§7.1), parents before children: a
        depth-first walk from the tip, a merge's last parent first (§8.6)."""
        order, state, stack = [], set(), [(tip, False)]
        while stack:
            oid, done = stack.pop()
            if done:
                order.append(oid)
                continue
            if oid in state:
                continue
            state.add(oid)
            self.commits[oid] = parse_commit(oid, self.object(oid, "commit"))
            stack.append((oid, True))
            stack.extend((p, False) for p in self.commits[oid].parents if p not in state)
        return order

    def files(self, tree, prefix=""):
        """§7.1: the files below a tree (the root tree when `prefix` is empty),
        each tree parsed strictly."""
        if tree not in self.trees:
            out = {}
            for mode, name, oid in parse_tree(tree, self.object(tree, "tree"), bool(prefix)):
                if mode == "40000":
                    out.update(self.files(oid, name + "/"))
                else:
                    out[name] = (mode, oid)
            self.trees[tree] = out
        elif prefix and not self.trees[tree]:
            # Met first as the (empty) root tree of a commit, now as a directory.
            parse_tree(tree, b"", True)
        return {prefix + path: entry for path, entry in self.trees[tree].items()}

    def log(self, blob, path):
        """§8.2 steps 1-2 for a blob, once."""
        if blob not in self.logs:
            try:
                self.logs[blob] = read_log(self.object(blob, "blob"), self.ws)
            except Refusal as e:
                self.logs[blob] = e
        if isinstance(self.logs[blob], Refusal):
            raise Refusal(**vars(self.logs[blob]))  # a fresh copy, to place
        return self.logs[blob]

    def latest(self, files):
        """The latest record of every log file of a tree, in (at, id) order (A2)."""
        keys = [self.log(oid, p)[-1].sort_key() for p, (mode, oid) in files.items() if p != ATTRIBUTES]
        return max(keys, default=None)

    def workspace_id(self, files):
        """§8.1: the id of the first record of the root commit's CREW.yaml."""
        if MANIFEST not in files:
            raise Refusal("8.1", "the root commit has no CREW.yaml", path=MANIFEST)
        records = frame_file(self.object(files[MANIFEST][1], "blob"))
        if not records or records[0].kind != "crew.genesis":
            raise Refusal("8.1", "the first record of CREW.yaml is not a crew.genesis", path=MANIFEST)
        records[0].compute_id(ZERO_ID)
        if files.get(ATTRIBUTES, ("", ""))[0] != "100644":
            raise Refusal("8.1", "the root commit has no .gitattributes", path=ATTRIBUTES)
        return bytes.fromhex(records[0].id)

    def check_path(self, path, old, new, base_latest):
        """§8.3 for one path that differs from a parent; returns the ids the
        commit adds to the file against that parent."""
        if new is None:
            raise Refusal("8.3", "a file is deleted", path=path)
        if not in_layout(path):
            raise Refusal("7", "a path outside the layout", path=path)
        if new[0] != "100644":
            raise Refusal("7", f"mode {new[0]}, not a regular non-executable file (100644)", path=path)
        if path == ATTRIBUTES:
            if self.object(new[1], "blob") != ATTRIBUTES_CONTENT:
                raise Refusal("7", ".gitattributes does not have its fixed content", path=path)
            return set()
        records = self.log(new[1], path)
        before = self.log(old[1], path) if old and old[0] == "100644" else []
        now = {(r.id, r.sig_line) for r in records}
        for r in before:
            if (r.id, r.sig_line) not in now:
                raise Refusal("8.3", "a record of the parent's version is missing or changed", record=r.id)
        if not records:
            raise Refusal("8.3", "a log file holds no record")
        if path == MANIFEST and records[0].id != self.ws.hex():
            raise Refusal("8.1", "CREW.yaml does not begin with the workspace's genesis")
        had = {(r.id, r.sig_line) for r in before}
        added = set()
        for r in records:
            if (r.id, r.sig_line) in had:
                continue
            if before and not r.sort_key() > before[-1].sort_key():
                raise Refusal("8.3 A1", "the record does not sort after every record of its file in the parent",
                              offset=r.offset, record=r.id)
            if r.kind in A2_KINDS and base_latest is not None and not r.sort_key() > base_latest:
                raise Refusal("8.3 A2", f"a {r.kind} does not sort after every record of the parent",
                              offset=r.offset, record=r.id)
            added.add(r.id)
        return added

    def check_commit(self, oid):
        """§8.1, §8.3 and §8.2 steps 3-8 for one commit (not yet the fold or §8.4)."""
        c = self.commits[oid]
        files = self.files(c.tree)
        if not c.parents:
            if self.root is not None:
                raise Refusal("8.1", f"a second root commit (the first is {self.root})", commit=oid)
            self.root, self.ws = oid, self.workspace_id(files)
        bases = [self.files(self.commits[p].tree) for p in c.parents] or [{}]
        added = None
        for base in bases:
            base_latest = self.latest(base)
            changed = sorted(set(base) | set(files), key=lambda p: [x.encode() for x in p.split("/")])
            against = set()
            for path in changed:
                if base.get(path) != files.get(path):
                    try:
                        against |= self.check_path(path, base.get(path), files.get(path), base_latest)
                    except Refusal as e:
                        raise e.place(path=path) from None
            added = against if added is None else added & against
        for path in sorted(files, key=lambda p: [x.encode() for x in p.split("/")]):
            if path == ATTRIBUTES or any(b.get(path) == files[path] for b in bases):
                continue
            for r in self.log(files[path][1], path):
                try:
                    if r.id not in self.records:
                        check_record(r, self.ws, path, self.schemas)
                        self.records[r.id], self.first_seen[r.id] = r, oid
                    elif self.records[r.id].sig_line != r.sig_line:
                        raise Refusal("8.3", "the record appears again with another signature", record=r.id)
                    elif self.records[r.id].path != path:
                        raise Refusal("7", f"the record appears again in {path}", record=r.id)
                except Refusal as e:
                    raise e.place(path=path) from None
        self.added[oid] = [self.records[i] for i in sorted(added)]

    def verify(self):
        tip = self.git.rev_parse(f"refs/heads/{self.branch}")
        if tip is None:
            raise Unusable(f"no branch {self.branch!r} in {self.git.repo}")
        order = self.history(tip)
        checked, failure = [], None
        for oid in order:
            try:
                self.check_commit(oid)
            except Refusal as e:
                failure = e.place(commit=oid)
                break
            checked.append(oid)
        # §8.5: fold every record; a refusal belongs to the commit where the
        # record first appeared, after that commit's own checks (§8.6).
        verdicts = fold(self.ws, self.records.values()).verdicts if self.ws else {}
        first_here = {oid: [] for oid in order}
        for r in sorted(self.records.values(), key=Record.sort_key):
            first_here[self.first_seen[r.id]].append(r)
        for oid in checked:
            for r in first_here[oid]:
                verdict, why = verdicts[r.id]
                if verdict == "refused":
                    raise fold_refusal(r, why).place(commit=oid)
            check_commit_identity(self.commits[oid], self.added[oid], self.escapes)
        if failure:
            raise failure
        return len(self.records), len(order)


# ---------------------------------------------------------------------------
# §13 Identity requests

REQUEST_HEADER = "# git-crew identity request v1"
REQUEST_FIELDS = {
    "workspace": re.compile(r"[0-9a-f]{64}"),
    "name": ACTOR_NAME,
    "role": re.compile(r"admin|human|agent"),
    "owner": ACTOR_NAME,
    "key": re.compile(r"[0-9a-f]{64}"),
    "proof": re.compile(r"[0-9a-f]{128}"),
}


def check_request(data, workspace=None):
    """§13: parse an identity request and verify its proof; returns its fields."""
    def bad(why):
        raise Refusal("13", why)

    if len(data) > 4096:
        bad("an identity request larger than 4,096 bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        bad("not UTF-8")
    lines = [x.rstrip("".join(WHITE_SPACE)) for x in text.split("\n")]
    lines = [x for x in lines if x]  # trailing white space ignored, blank lines skipped
    if not lines or lines[0] != REQUEST_HEADER:
        bad(f"the first line is not {REQUEST_HEADER!r}")
    fields = {}
    for line in lines[1:]:
        if line.startswith("#"):
            continue
        name, sep, value = line.partition(": ")
        if not sep or name not in REQUEST_FIELDS:
            bad(f"neither a comment nor a known field: {line!r}")
        if name in fields:
            bad(f"the field {name!r} twice")
        value = trim(value)
        if not REQUEST_FIELDS[name].fullmatch(value):
            bad(f"malformed {name}: {value!r}")
        fields[name] = value
    for name in ("workspace", "name", "role", "key", "proof"):
        if name not in fields:
            bad(f"no {name!r} field")
    if not verify_proof(bytes.fromhex(fields["workspace"]), fields["name"], fields["key"], fields["proof"]):
        bad("the proof of possession does not verify (§5.4): the request is altered or forged")
    if workspace is not None and fields["workspace"] != workspace.hex():
        bad(f"the request is for workspace {fields['workspace']}, not {workspace.hex()}")
    return fields


# ---------------------------------------------------------------------------
# §16 Fixtures and the other modes


def check_bare_body(data, kind, schemas):
    """§16: a bare body: the §2 rules for a body, the schema, §8.2 steps 4-7."""
    if len(data) > MAX_BODY_BYTES:
        raise Refusal("2", "a body larger than 65,536 bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refusal("2", "not valid UTF-8", offset=e.start) from None
    if not data.endswith(b"\n"):
        raise Refusal("2", "the body does not end with a line feed", offset=len(data))
    lines = split_lines(data)
    framed_kind = check_header(lines, 0)[0]
    for off, text in lines[4:]:
        check_body_line(off, text)
        if text == b"---" or text.startswith(b"sig: "):
            raise Refusal("2", "a `---` or `sig: ` line inside a body", offset=off)
    return decode_body(data, kind or framed_kind, schemas)


def check_log_file(data, ws, path, schemas):
    """§8.2 steps 1-8 for one file signed for the workspace id `ws`."""
    records = read_log(data, ws)
    for r in records:
        check_record(r, ws, path, schemas)
    return records


def check_tree(folder, schemas):
    """A workspace as files on disk: §7 layout, §8.1, §8.2 and the fold."""
    folder = Path(folder)
    if not folder.is_dir():
        raise Unusable(f"no directory {folder}")
    paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    if MANIFEST not in paths:
        raise Refusal("8.1", "no CREW.yaml", path=MANIFEST)
    first = frame_file((folder / MANIFEST).read_bytes())
    if not first or first[0].kind != "crew.genesis":
        raise Refusal("8.1", "the first record of CREW.yaml is not a crew.genesis", path=MANIFEST)
    first[0].compute_id(ZERO_ID)
    ws = bytes.fromhex(first[0].id)
    records = {}
    for path in paths:
        data = (folder / path).read_bytes()
        if not in_layout(path):
            raise Refusal("7", "a path outside the layout", path=path)
        if path == ATTRIBUTES:
            if data != ATTRIBUTES_CONTENT:
                raise Refusal("7", ".gitattributes does not have its fixed content", path=path)
            continue
        try:
            for r in check_log_file(data, ws, path, schemas):
                if r.id in records:
                    raise Refusal("8.3", "the record appears twice", record=r.id)
                records[r.id] = r
        except Refusal as e:
            raise e.place(path=path) from None
    verdicts = fold(ws, records.values()).verdicts
    for r in sorted(records.values(), key=Record.sort_key):
        if verdicts[r.id][0] == "refused":
            raise fold_refusal(r, verdicts[r.id][1])
    return len(records), len(paths)


def check_bodies(paths, kind, schemas):
    """§16 for each file; exit 4 if any is refused."""
    status = EXIT_OK
    for path in paths:
        prefix = f"{path}: " if len(paths) > 1 else ""
        guess = kind or Path(path).name.split("-")[0]
        try:
            fields = check_bare_body(Path(path).read_bytes(), guess if guess in KINDS else None, schemas)
            print(f"{prefix}ok: a valid {fields['kind']} body")
        except Refusal as e:
            print(f"{prefix}refused: {e}")
            status = EXIT_REFUSED
    return status


def workspace_arg(text):
    if not HEX64.fullmatch(text):
        raise argparse.ArgumentTypeError("a workspace id is 64 lowercase hex digits")
    return bytes.fromhex(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--repo", help="a repository: verify the whole history of --branch")
    mode.add_argument("--body", nargs="+", help="bare record bodies (§16)")
    mode.add_argument("--file", help="one log file, signed for --workspace")
    mode.add_argument("--tree", help="a directory holding a workspace's files")
    mode.add_argument("--request", help="an identity request (§13)")
    parser.add_argument("--branch", default="crew")
    parser.add_argument("--kind", help="with --body: the kind (default: the file name's prefix)")
    parser.add_argument("--workspace", type=workspace_arg, help="a workspace id, 64 hex digits")
    parser.add_argument("--path", help="with --file: the file's path on the branch, to check placement")
    parser.add_argument("--schemas", default=str(HERE), help="the folder of the JSON Schemas")
    parser.add_argument("--escapes", default=str(DEFAULT_ESCAPES), help="debug-escapes.txt (§8.4)")
    args = parser.parse_args(argv)
    schemas = Schemas(args.schemas)
    if args.body:
        return check_bodies(args.body, args.kind, schemas)
    try:
        if args.repo:
            records, commits = Branch(args.repo, args.branch, schemas, Escapes(args.escapes)).verify()
            print(f"ok: {records} records, {commits} commits")
        elif args.file:
            if args.workspace is None:
                parser.error("--file needs --workspace")
            records = check_log_file(Path(args.file).read_bytes(), args.workspace, args.path, schemas)
            print(f"ok: {len(records)} records")
        elif args.tree:
            records, files = check_tree(args.tree, schemas)
            print(f"ok: {records} records, {files} files")
        else:
            fields = check_request(Path(args.request).read_bytes(), args.workspace)
            print(f"ok: an identity request of {fields['name']} for workspace {fields['workspace']}")
    except Refusal as e:
        print(f"refused: {e}")
        return EXIT_REFUSED
    except (Unusable, OSError) as e:
        print(f"verify.py: {e}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
