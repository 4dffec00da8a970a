"""CSV that spreadsheets read as data, never as formulas (OWASP's CSV injection guidance).

Every cell is quoted (so a separator or line break inside a cell stays inside it) and
its double quotes doubled. A text cell gets a leading ``'``, which makes a spreadsheet
read it as text, when it starts with a formula trigger or has one right after a
separator or line break anywhere inside (``x;=1+1``: where ``;`` separates cells, or
for an importer that ignores quotes, the ``=1+1`` would otherwise be a cell of its own).
Numbers are written as numbers.
"""

import csv
import io
import re

# = + - @, tab and carriage return (OWASP), and their full-width forms, which some
# spreadsheets fold into the ASCII ones.
_TRIGGERS = "=+\\-@\t\r\uff1d\uff0b\uff0d\uff20"
_FORMULA = re.compile(rf"(^|[,;\t\r\n])\s*[{_TRIGGERS}]")


def cell(value):
    """One cell's value, neutralised if it is text that could run as a formula."""
    if isinstance(value, str) and _FORMULA.search(value):
        return "'" + value
    return value


def write(rows):
    """The rows as CSV text: every cell quoted and neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
