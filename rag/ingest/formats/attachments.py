"""Files embedded in a Word binary document (.doc, Kingsoft .wps): offices attach the documents a
reply refers to (附件) as embedded objects, and some files hold nothing else.

Word keeps each object in a storage under `ObjectPool`. Two kinds carry a whole file that the other
readers can take: an `Ole10Native` stream (a packaged file of any type: its name, then its bytes)
and a `package` stream (an Office Open XML file: .docx, .xlsx or .pptx). Objects kept as OLE
storages of their own (a Word, Excel or PowerPoint binary document) cannot be taken out as files and
are counted, not read.
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass

MAX_ATTACHMENTS = 100


@dataclass(frozen=True)
class Attachment:
    name: str  # the file's name as attached (`附件1.pdf`), or one made from its type
    data: bytes


def ole10native(stream: bytes) -> Attachment | None:
    """The file in an `Ole10Native` stream: size (u32), flags (u16), label, source path (both
    zero-terminated, in the system's ANSI code page), u32, temporary path (u32 length + text),
    then the data (u32 length + bytes). None when the stream is not laid out so."""
    try:
        at = 6
        end = stream.index(b"\0", at)
        label = stream[at:end]
        at = stream.index(b"\0", end + 1) + 1 + 4  # past the source path and the reserved u32
        (length,) = struct.unpack_from("<I", stream, at)
        at += 4 + length
        (size,) = struct.unpack_from("<I", stream, at)
        data = stream[at + 4 : at + 4 + size]
    except (ValueError, struct.error):
        return None
    if len(data) != size:
        return None
    return Attachment(label.decode("gbk", "replace").strip() or "attachment", data)


def ooxml_name(data: bytes, number: int) -> str | None:
    """A name with the right suffix for an Office Open XML package, by its main folder."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    for folder, suffix in (("word/", ".docx"), ("xl/", ".xlsx"), ("ppt/", ".pptx")):
        if any(n.startswith(folder) for n in names):
            return f"attachment{number}{suffix}"
    return None


def embedded_files(ole) -> tuple[list[Attachment], int]:
    """The files embedded in an open olefile.OleFileIO, in storage order, and how many embedded
    objects could not be taken out as files."""
    storages = sorted({tuple(entry[:2]) for entry in ole.listdir() if len(entry) >= 3 and entry[0] == "ObjectPool"})
    found: list[Attachment] = []
    unread = 0
    for number, storage in enumerate(storages[:MAX_ATTACHMENTS], start=1):
        path = "/".join(storage)
        attachment = None
        if ole.exists(f"{path}/\x01Ole10Native"):
            attachment = ole10native(ole.openstream(f"{path}/\x01Ole10Native").read())
        elif ole.exists(f"{path}/package"):
            data = ole.openstream(f"{path}/package").read()
            name = ooxml_name(data, number)
            attachment = Attachment(name, data) if name else None
        if attachment is None:
            unread += 1
        else:
            found.append(attachment)
    return found, unread + max(0, len(storages) - MAX_ATTACHMENTS)
