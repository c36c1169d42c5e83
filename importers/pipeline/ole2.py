"""Checking the structure of an Excel 97-2003 (XLS) file before calamine opens it.

An XLS workbook is an OLE2 compound file: a header, a sector allocation table (FAT) listing
for each sector the next one of its chain, a directory of streams, and the streams, each a
chain of sectors. calamine follows those chains without bounds, so a damaged or crafted file
whose chain loops back on itself makes it allocate until the process is killed (a 9 KB file
asked for 4 GiB). ``check_ole2`` walks every chain once, with the number of sectors of the
file as the bound, and refuses a loop, a sector outside the file or a stream longer than its
chain, as a damaged workbook. It reads the tables only (bounded by the file's size).
"""

from __future__ import annotations

import struct
import sys
from array import array
from pathlib import Path

from importers.pipeline.content import OLE_MAGIC

END_OF_CHAIN = 0xFFFFFFFE
FREE = 0xFFFFFFFF
SPECIAL = 0xFFFFFFFA  # and above: end of chain, FAT and DIFAT sectors, free


class DamagedOle2(ValueError):
    """The compound file's structure is damaged (the message says where)."""


def _entries(data: bytes) -> array:
    """Little-endian 32-bit entries of a table (the FAT, a DIFAT sector, the mini FAT)."""
    table = array("I")
    table.frombytes(data[: len(data) // 4 * 4])
    if sys.byteorder != "little":  # pragma: no cover
        table.byteswap()
    return table


def check_ole2(path: Path) -> None:
    """Raise DamagedOle2 when the OLE2 structure of the file is damaged; return when every chain
    (DIFAT, FAT, directory, mini FAT and every stream) is finite and inside the file."""
    data = path.read_bytes()
    if len(data) < 512 or not data.startswith(OLE_MAGIC):
        raise DamagedOle2("the OLE2 header is cut short")
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        raise DamagedOle2(f"the OLE2 header gives a sector size of 2^{shift} bytes")
    size = 1 << shift
    mini_shift = struct.unpack_from("<H", data, 0x20)[0]
    if mini_shift != 6:
        raise DamagedOle2(f"the OLE2 header gives a mini sector size of 2^{mini_shift} bytes")
    n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
    cutoff, first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from("<IIIII", data, 0x38)
    body = data[size:]
    n_sectors = (len(body) + size - 1) // size
    per_sector = size // 4

    def sector(index: int) -> bytes:
        if index >= n_sectors:
            raise DamagedOle2(f"sector {index} is outside the file ({n_sectors} sectors)")
        return body[index * size : (index + 1) * size].ljust(size, b"\0")

    # The FAT's own sectors: 109 in the header, the rest in the DIFAT chain.
    fat_sectors = [s for s in _entries(data[0x4C:0x200]) if s < SPECIAL]
    difat, seen = first_difat, set()
    while difat < SPECIAL:
        if difat in seen or len(seen) > n_difat or len(seen) > n_sectors:
            raise DamagedOle2("the DIFAT chain loops")
        seen.add(difat)
        table = _entries(sector(difat))
        fat_sectors += [s for s in table[: per_sector - 1] if s < SPECIAL]
        difat = table[per_sector - 1]
    if len(fat_sectors) > n_sectors or (n_fat and len(fat_sectors) < min(n_fat, n_sectors)):
        raise DamagedOle2(f"the header declares {n_fat} FAT sectors, {len(fat_sectors)} are listed")
    fat = _entries(b"".join(sector(s) for s in fat_sectors))

    def chain(start: int, table: array, bound: int, what: str) -> list[int]:
        found, seen_here = [], set()
        current = start
        while current != END_OF_CHAIN:
            if current >= len(table) or current >= bound:
                raise DamagedOle2(f"the {what} leads to sector {current}, outside the file")
            if current in seen_here:
                raise DamagedOle2(f"the {what} loops back to sector {current}")
            seen_here.add(current)
            found.append(current)
            current = table[current]
        return found

    directory = b"".join(sector(s) for s in chain(first_dir, fat, n_sectors, "directory's chain"))
    minifat = array("I")
    if first_minifat < SPECIAL:
        minifat_chain = chain(first_minifat, fat, n_sectors, "mini FAT's chain")
        if len(minifat_chain) < min(n_minifat, n_sectors):
            raise DamagedOle2("the mini FAT is shorter than the header says")
        minifat = _entries(b"".join(sector(s) for s in minifat_chain))
    root_sectors = 0
    for offset in range(0, len(directory) - 127, 128):
        entry = directory[offset : offset + 128]
        kind = entry[66]
        if kind not in (2, 5):  # streams and the root entry (the mini stream) have chains
            continue
        start = struct.unpack_from("<I", entry, 116)[0]
        length = struct.unpack_from("<Q", entry, 120)[0] if shift == 12 else struct.unpack_from("<I", entry, 120)[0]
        name = entry[:64].decode("utf-16-le", "replace").split("\0", 1)[0] or "(unnamed)"
        if kind == 5 or length >= cutoff:
            if start >= SPECIAL and length == 0:
                continue
            sectors = chain(start, fat, n_sectors, f"stream {name!r}'s chain")
            if len(sectors) * size < length:
                raise DamagedOle2(f"stream {name!r} declares {length:,} bytes, its chain holds {len(sectors) * size:,}")
            if kind == 5:
                root_sectors = len(sectors)
        else:
            if start >= SPECIAL and length == 0:
                continue
            minis = chain(start, minifat, root_sectors * size // 64 or len(minifat), f"stream {name!r}'s mini chain")
            if len(minis) * 64 < length:
                raise DamagedOle2(f"stream {name!r} declares {length:,} bytes, its chain holds {len(minis) * 64:,}")
