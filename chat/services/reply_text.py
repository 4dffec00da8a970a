"""What a person wrote in a reply mail: the new text, without the quoted mail or a signature.

The plain-text part is read when there is one; an HTML-only reply is turned to text
with the standard library's parser (never rendered: tags are dropped, quoted blocks
become ``>`` lines). email-reply-parser then drops quoted lines, "On ... wrote:"
lines, Outlook's header blocks and signatures; it knows only English forms, so the
German and French ones ("Am ... schrieb ...:", "Le ... a écrit :", "Von:/Gesendet:",
"De :/Envoyé :", "Von meinem iPhone gesendet") are added here.
"""

import re
from html.parser import HTMLParser

from email_reply_parser import EmailMessage

# A quote header, once joined onto one line (some clients wrap it).
_QUOTE_HEADER = re.compile(r"^(On\s.+\swrote|Am\s.+\sschrieb.*|Le\s.+\sa\s+écrit)\s?:\s*$", re.I)
_QUOTE_HEADER_START = re.compile(r"^(On|Am|Le)\s", re.I)


class _Reply(EmailMessage):
    """email-reply-parser's message with the German and French forms besides the English ones."""

    QUOTE_HDR_REGEX = _QUOTE_HEADER
    HEADER_REGEX = re.compile(
        r"^\*?(From|Sent|To|Subject|Date|Von|Gesendet|An|Betreff|Datum|De|Envoyé|À|A|Objet)\s?:\*? .+"
    )
    SIG_REGEX = re.compile(
        r"(--|__|-\w)|(^(Sent from my|Von meinem|Gesendet von meinem|Envoyé de mon|Envoyé depuis mon)\s(\w+\s*){1,3})"
    )


def _join_wrapped_headers(text):
    """A quote header a client wrapped over two or three lines, joined onto one.

    Only lines that go on from it: not blank, not the start of another one ("On its
    way." above "On Mon, ... wrote:" stays the reply's own line)."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if _QUOTE_HEADER_START.match(line) and not _QUOTE_HEADER.match(line):
            for extra in (1, 2):
                following = lines[i + 1 : i + extra + 1]
                if len(following) < extra or any(not f.strip() or _QUOTE_HEADER_START.match(f) for f in following):
                    continue
                joined = " ".join(part.strip() for part in lines[i : i + extra + 1])
                if _QUOTE_HEADER.match(joined):
                    out.append(joined)
                    i += extra + 1
                    break
            else:
                out.append(line)
                i += 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def new_text(text):
    """The reply's own words: ``text`` without what it quotes or its signature."""
    text = _join_wrapped_headers(text.replace("\r\n", "\n").replace("\r", "\n"))
    reply = _Reply(text).read().reply
    return re.sub(r"\n{3,}", "\n\n", reply).strip()


def unflow(text, delsp=False):
    """RFC 3676 ``format=flowed``: a line ending in a space goes on in the next one."""
    out = []
    for line in text.split("\n"):
        if out and out[-1].endswith(" ") and out[-1] != "-- " and not line.startswith(">"):
            out[-1] = (out[-1][:-1] if delsp else out[-1]) + line
        else:
            out.append(line)
    return "\n".join(out)


_BLOCKS = {
    "p", "div", "li", "ul", "ol", "tr", "table", "hr", "pre", "section", "article", "header", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "address",
}  # fmt: skip
_HIDDEN = {"script", "style", "head", "title", "template"}


class _HtmlText(HTMLParser):
    """Text of an HTML mail: blocks and ``<br>`` are line breaks, ``<blockquote>`` lines get ``>``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines = [[0, ""]]  # [quote depth, text]
        self.hidden = self.quote = self.pre = 0

    def _break(self):
        if self.lines[-1][1].strip():
            self.lines.append([self.quote, ""])
        else:
            self.lines[-1] = [self.quote, ""]

    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.lines.append([self.quote, ""])
        elif tag == "blockquote":
            self._break()
            self.quote += 1
            self.lines[-1][0] = self.quote
        elif tag in _BLOCKS:
            self.pre += tag == "pre"
            self._break()

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._break()
        elif tag in _BLOCKS:
            self.pre = max(0, self.pre - (tag == "pre"))
            self._break()

    def handle_data(self, data):
        if self.hidden:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if not self.lines[-1][1]:
                data = data.lstrip()
        for i, piece in enumerate(data.split("\n")):
            if i:
                self.lines.append([self.quote, ""])
            self.lines[-1][1] += piece

    def text(self):
        return "\n".join(("> " * depth) + line.rstrip() for depth, line in self.lines)


def html_to_text(html):
    """The text of an HTML body (never rendered, nothing fetched)."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()
