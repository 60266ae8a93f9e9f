"""Reading uploaded zip packages without trusting their headers or paths."""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from urllib.parse import unquote, urlsplit

from app.bank.interchange._common import FileRejected

MAX_ARCHIVE_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 2000
MAX_ENTRY_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 100 * 1024 * 1024
# Real XML compresses around 5-20x; far beyond that on a sizeable entry is a zip bomb.
MAX_RATIO = 200
_RATIO_CHECK_FLOOR = 1024 * 1024

_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    EOFError,
)


class SafeZip:
    """A zip archive opened from memory, vetted as a whole before any member is read."""

    def __init__(self, content: bytes) -> None:
        if not content:
            raise FileRejected("文件为空")
        if len(content) > MAX_ARCHIVE_BYTES:
            raise FileRejected(f"压缩包超过 {MAX_ARCHIVE_BYTES // (1024 * 1024)} MB")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(content))
            infos = self._zip.infolist()
        except _READ_ERRORS as exc:
            raise FileRejected("无法读取的 zip 压缩包（文件已损坏，或不是 zip 格式）") from exc
        _vet_entries(infos)
        self._members = {info.filename: info for info in infos if not info.is_dir()}
        self._bytes_read = 0

    def names(self) -> list[str]:
        """Paths of the files in the archive, in archive order."""
        return list(self._members)

    def has(self, name: str) -> bool:
        """Whether the archive holds a file at this exact path."""
        return name in self._members

    def read(self, name: str) -> bytes:
        """Read one member, stopping at the size limit whatever its header claims."""
        info = self._members.get(name)
        if info is None:
            raise KeyError(name)
        try:
            with self._zip.open(info) as member:
                data = member.read(MAX_ENTRY_BYTES + 1)
        except _READ_ERRORS as exc:
            raise FileRejected(f"无法从压缩包中读取 {name}（该文件已损坏）") from exc
        self._bytes_read += len(data)
        if len(data) > MAX_ENTRY_BYTES or self._bytes_read > MAX_TOTAL_BYTES:
            raise FileRejected(f"{name} 解压后超过允许的大小，已拒绝整个压缩包")
        return data


def _vet_entries(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ENTRIES:
        raise FileRejected(f"压缩包有 {len(infos)} 个文件，最多允许 {MAX_ENTRIES} 个")
    total = 0
    for info in infos:
        if not is_safe_member_name(info.filename):
            raise FileRejected(f"压缩包含有不安全的路径 {info.filename!r}，已拒绝")
        if info.flag_bits & 0x1:
            raise FileRejected(f"{info.filename} 已加密，无法读取")
        if info.file_size > MAX_ENTRY_BYTES:
            raise FileRejected(f"{info.filename} 解压后超过 {MAX_ENTRY_BYTES // (1024 * 1024)} MB")
        if info.file_size > _RATIO_CHECK_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FileRejected(f"{info.filename} 的压缩比异常（可能是压缩炸弹），已拒绝")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise FileRejected(f"压缩包解压后超过 {MAX_TOTAL_BYTES // (1024 * 1024)} MB")


def is_safe_member_name(name: str) -> bool:
    """A relative path that stays inside the archive (no ``..``, no root, no drive, no backslash)."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    parts = name.split("/")
    return ".." not in parts and not parts[0].endswith(":")


def resolve_href(base_dir: str, href: str) -> str | None:
    """The archive path an href points to, or None when it leaves the archive or is a URL."""
    split = urlsplit(href.strip())
    if split.scheme or split.netloc or not split.path:
        return None
    path = posixpath.normpath(posixpath.join(base_dir, unquote(split.path)))
    return path if is_safe_member_name(path) and path != "." else None
