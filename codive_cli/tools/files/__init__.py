"""The file tools: read_file, write_file, edit_file, list_dir.

Every path goes through the workspace guard. Writes are atomic: the new bytes go to a
temporary file in the same folder, are flushed to disk, and replace the old file with one
`os.replace`; the temporary file is removed on any failure, Ctrl-C included, so a file is
either wholly old or wholly new. A rewritten file keeps its permission bits, its line endings
(CRLF stays CRLF) and its UTF-8 byte-order mark.
"""

from codive_cli.tools.files.atomic import atomic_write
from codive_cli.tools.files.edit import EditFileTool
from codive_cli.tools.files.listing import MAX_LIST_ENTRIES, ListDirTool
from codive_cli.tools.files.matching import MAX_LINE_CHARS
from codive_cli.tools.files.read import MAX_READ_LINES, ReadFileTool
from codive_cli.tools.files.write import WriteFileTool

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_LIST_ENTRIES",
    "MAX_READ_LINES",
    "EditFileTool",
    "ListDirTool",
    "ReadFileTool",
    "WriteFileTool",
    "atomic_write",
]
