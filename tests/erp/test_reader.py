"""The reset's reader: polars reads the plain lines, the csv module the odd ones, and the two
must agree with a plain line-by-line reading of the file (the csv module on every line)
whatever the block size — rows and odd lines straddling block boundaries included."""

from __future__ import annotations

import csv
import random

import polars as pl

from erp import reader
from erp.reader import INACTIVE, SPACES, WATCHED, reset_scan

HEADER = b"sku_id,location,quantity\n"
SKUS = {"A": 1, "B": 2, "Ä-1": 3, "Z": INACTIVE, "GHOST": WATCHED}
LOCATIONS = {"NY": 1, "RP-NY": 1, "NSH": 2}
OUT_OF_SCOPE = {"LDN"}
BLOCK_SIZES = [1, 2, 3, 7, 16, 64, 1000, 1 << 22]


def read(path, block_size: int):
    """(scan, kept rows as tuples) of the reader."""
    frames = []
    scan = reset_scan(
        path,
        label="f",
        skus=SKUS,
        locations=LOCATIONS,
        out_of_scope=OUT_OF_SCOPE,
        sink=frames.append,
        block_size=block_size,
    )
    rows = pl.concat(frames).rows() if frames else []
    return scan, rows


def by_hand(data: bytes):
    """The file read a line at a time with the csv module: what the reader must find."""
    body = data[len(HEADER) :]
    ends_with_newline = body.endswith(b"\n") or not body
    if not ends_with_newline:
        body += b"\n"
    body = body.replace(b"\r\n", b"\n")
    errors, kept, skipped, read_ = [], [], {}, 0
    watched, unknown = {}, {}

    def skip(why):
        skipped[why] = skipped.get(why, 0) + 1

    def note(where, key, line):
        where.setdefault(key, [line, 0])[1] += 1

    for number, raw in enumerate(body.split(b"\n")[:-1], start=2):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                f"f:{number}: encoding: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                f"character {exc.start + 1}); save the file as UTF-8"
            )
            continue
        if not text.strip():
            continue
        try:
            values = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            errors.append(f"f:{number}: row: unreadable CSV: {exc}")
            continue
        if len(values) != 3:
            errors.append(f"f:{number}: row: has {len(values)} fields, the header has 3")
            continue
        sku, location, quantity = (value.strip() for value in values)
        nul = [
            c for c, v in zip(reader.COLUMNS, (sku, location, quantity), strict=True) if "\x00" in v
        ]
        if nul:
            errors.extend(f"f:{number}: {c}: holds a NUL character (0x00); remove it" for c in nul)
            continue
        read_ += 1
        kind = SKUS.get(sku)
        if kind is None:
            skip("unknown SKU")
        elif kind == INACTIVE:
            skip("inactive product")
        elif kind == WATCHED:
            skip("unknown SKU")
            note(watched, sku, number)
        elif location not in LOCATIONS:
            if not location:
                errors.append(f"f:{number}: location: is required")
            elif location in OUT_OF_SCOPE:
                skip("location outside the source's scope")
            else:
                skip("unknown location")
                note(unknown, location, number)
        else:
            try:
                value = (
                    int(quantity)
                    if quantity.isdigit() and quantity.isascii() and len(quantity) < 10
                    else reader._quantity(quantity)
                )
            except ValueError as exc:
                errors.append(f"f:{number}: quantity: {exc}")
                continue
            kept.append((number, kind, LOCATIONS[location], value))
    return {
        "errors": errors,
        "kept": kept,
        "skipped": skipped,
        "rows_read": read_,
        "watched": watched,
        "unknown_locations": unknown,
        "ends_with_newline": ends_with_newline,
    }


def found(scan, rows):
    return {
        "errors": [str(e) for e in scan.errors],
        "kept": rows,
        "skipped": dict(scan.skipped),
        "rows_read": scan.rows_read,
        "watched": scan.watched,
        "unknown_locations": scan.unknown_locations,
        "ends_with_newline": scan.ends_with_newline,
    }


def agrees(tmp_path, data: bytes, sizes=BLOCK_SIZES) -> dict:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    expected = by_hand(data)
    for size in sizes:
        scan, rows = read(path, size)
        if expected["errors"]:  # the kept rows stop at the first problem; only counts go on
            assert scan.kept == len(expected["kept"]), size
            rows = expected["kept"]
        assert found(scan, rows) == expected, f"block size {size}"
    return expected


def test_plain_rows_are_kept_in_order_whatever_the_block_size(tmp_path):
    expected = agrees(tmp_path, HEADER + b"A,NY,10\nB,RP-NY,0007\nX,NY,1\nA,NSH,3\nZ,NY,1\n")
    assert expected["kept"] == [(2, 1, 1, 10), (3, 2, 1, 7), (5, 1, 2, 3)]
    assert expected["skipped"] == {"unknown SKU": 1, "inactive product": 1}


def test_odd_lines_read_the_same_as_the_csv_module_reads_them(tmp_path):
    data = (
        HEADER
        + b'"A",NY,1\n'  # quoted
        + b" B , NSH ,\t2 \n"  # padded
        + b"A,NSH,3\r\n"  # CRLF
        + b"\n  \n"  # blank lines
        + b"\xc3\x84-1,NY,4\n"  # UTF-8 SKU
        + b"A\xc2\xa0,NY,5\n"  # a no-break space to strip
        + b"\xe3\x80\x80B,NY,6\n"  # an ideographic space to strip
        + b"GHOST,NY,1\nGHOST,NSH,1\n"
        + b"B,PARIS,1\nB,LDN,1\n"
        + b'"A,B",NY,1\n'  # a quoted comma: one field, unknown SKU
        + b"\xef\xbb\xbfA,NY,1\n"  # a byte-order mark inside the file is part of the SKU
        + b"B,NY,-2\nB,NSH,+3\n"
    )
    expected = agrees(tmp_path, data)
    assert not expected["errors"]
    assert [row[0] for row in expected["kept"]] == [2, 3, 4, 7, 8, 9, 16, 17]


def test_problems_are_named_on_their_own_lines_whatever_the_block_size(tmp_path):
    data = (
        HEADER
        + b"A,NY,1\n"
        + b"A,NY\n"  # a field short
        + b"A,NY,1,1\n"  # a field too many
        + b"B,NY,ten\nB,NSH,2.5\nA,NSH,\nA,NSH,1e3\nB,NY,1_000\nB,NY,99999999999999999999\n"
        + b"A,,4\n"
        + b"\xffA,NY,1\n"  # bad UTF-8
        + b'A,"NY,1\n'  # an unclosed quote
        + b"A,N\rY,1\n"  # a stray carriage return
        + b"X,NY\n"  # out of scope, but still the header's number of fields
        + b"B,NY,3"  # no line break at the end
    )
    expected = agrees(tmp_path, data)
    assert [e.split(": ", 1)[0] for e in expected["errors"]] == [
        f"f:{n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    ]
    assert (
        "f:10: quantity: '99999999999999999999' is too large; at most 2147483647"
        in expected["errors"]
    )
    assert not expected["ends_with_newline"]


def test_a_quoted_line_break_is_read_a_line_at_a_time(tmp_path):
    expected = agrees(tmp_path, HEADER + b'A,NY,1\n"B\nC",NY,1\nB,NY,2\n')
    assert expected["errors"] == ["f:3: row: unreadable CSV: unexpected end of data"]
    assert expected["skipped"] == {"unknown SKU": 1}  # line 4: the SKU 'C"'


def test_every_mix_of_plain_and_odd_lines_agrees(tmp_path):
    """Random files from pieces that each trip one path or another."""
    skus = ["A", "B", "Z", "GHOST", "X", "", " A", "B ", '"A"', '"A,B"', "Ä-1", "A\u00a0", 'A"B']
    places = ["NY", "RP-NY", "NSH", "LDN", "PARIS", "", " NY", '"NSH"']
    quantities = ["1", "007", "-3", "+4", "", "x", "2.5", " 5", "12345678901234567890123"]
    odd = [b"", b"   ", b"A,NY", b"A,NY,1,2", b"A\xff,NY,1", b'A,"NY,1', b"A,NY,1\r", b"\x00,NY,1"]
    rng = random.Random(7)
    for _ in range(25):
        lines = []
        for _ in range(rng.randint(1, 60)):
            if rng.random() < 0.15:
                lines.append(rng.choice(odd))
            else:
                fields = (rng.choice(skus), rng.choice(places), rng.choice(quantities))
                lines.append(",".join(fields).encode())
        ending = rng.choice([b"\n", b"\r\n"])
        data = HEADER + ending.join(lines) + rng.choice([ending, b""])
        agrees(tmp_path, data, sizes=[1, 5, 17, 100, 1 << 22])


def test_the_whitespace_the_reader_strips_is_pythons():
    assert set(SPACES) == {chr(c) for c in range(0x110000) if chr(c).isspace()}
