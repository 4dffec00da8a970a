"""What a reply mail's own words are: quotes, quote lines, header blocks and signatures
stripped, as mail programs write them in English, German and French; HTML as text."""

import pytest
from email_reply_parser import EmailReplyParser

from chat.services.reply_text import html_to_text, new_text, unflow

QUOTED = "> An urgent question came in about the backpack\n> \n> Answer it: http://shop.test/admin/inquiries/1\n"
REPLIES = {
    "gmail, English": "Yes, tomorrow.\n\nOn Mon, 3 Mar 2025 at 10:00, Product chat <chat@localhost> wrote:\n",
    "gmail, English, wrapped": "Yes, tomorrow.\n\nOn Mon, 3 Mar 2025 at 10:00, Product chat\n<chat@localhost> wrote:\n\n",
    "gmail, German": "Yes, tomorrow.\n\nAm Mo., 3. März 2025 um 10:00 Uhr schrieb Product chat <chat@localhost>:\n",
    "gmail, German, wrapped": "Yes, tomorrow.\n\nAm Mo., 3. März 2025 um 10:00 Uhr schrieb Product chat <\n"
    "chat@localhost>:\n\n",
    "gmail, French": "Yes, tomorrow.\n\nLe lun. 3 mars 2025 à 10:00, Product chat <chat@localhost> a écrit :\n",
    "Apple Mail, German": "Yes, tomorrow.\n\n> Am 03.03.2025 um 10:00 schrieb Product chat <chat@localhost>:\n> \n",
    "Apple Mail, French": "Yes, tomorrow.\n\n> Le 3 mars 2025 à 10:00, Product chat <chat@localhost> a écrit :\n> \n",
    "Thunderbird, German": "Yes, tomorrow.\n\nAm 03.03.25 um 10:00 schrieb Product chat:\n",
    "Outlook, English": "Yes, tomorrow.\n\n________________________________\nFrom: Product chat <chat@localhost>\n"
    "Sent: Monday, March 3, 2025 10:00 AM\nTo: kim@example.com\nSubject: Urgent question\n\n",
    "Outlook, German": "Yes, tomorrow.\n\nVon: Product chat <chat@localhost>\nGesendet: Montag, 3. März 2025 10:00\n"
    "An: kim@example.com\nBetreff: Eilige Frage\n\n",
    "Outlook, French": "Yes, tomorrow.\n\nDe : Product chat <chat@localhost>\nEnvoyé : lundi 3 mars 2025 10:00\n"
    "À : kim@example.com\nObjet : Question urgente\n\n",
    "Outlook, German, original message": "Yes, tomorrow.\n\n-----Ursprüngliche Nachricht-----\n"
    "Von: Product chat <chat@localhost>\nGesendet: Montag\nAn: kim@example.com\nBetreff: Frage\n\n",
    "signature": "Yes, tomorrow.\n\n-- \nKim Doe\nHead of support, Shop Inc.\n\nOn Mon, 3 Mar 2025, X <x@y.z> wrote:\n",
    "iPhone, English": "Yes, tomorrow.\n\nSent from my iPhone\n\nOn 3 Mar 2025, at 10:00, X <x@y.z> wrote:\n",
    "iPhone, German": "Yes, tomorrow.\n\nVon meinem iPhone gesendet\n\nAm 03.03.2025 um 10:00 schrieb X <x@y.z>:\n",
    "iPhone, French": "Yes, tomorrow.\n\nEnvoyé de mon iPhone\n\nLe 3 mars 2025 à 10:00, X <x@y.z> a écrit :\n",
}


@pytest.mark.parametrize("mail_program", sorted(REPLIES))
def test_quotes_quote_lines_header_blocks_and_signatures_are_stripped(mail_program):
    assert new_text(REPLIES[mail_program] + QUOTED) == "Yes, tomorrow."


def test_the_library_alone_misses_the_german_and_french_forms():
    """Why reply_text.py adds them: email-reply-parser knows English only."""
    for mail_program in ("gmail, German", "gmail, French", "Outlook, German", "iPhone, French"):
        assert EmailReplyParser.parse_reply(REPLIES[mail_program] + QUOTED) != "Yes, tomorrow."


def test_the_reply_keeps_its_own_paragraphs_and_lines_that_only_look_like_quote_lines():
    text = (
        "On Monday we ship it.\nAm Dienstag kommt es an.\nLe colis part lundi.\n\nThanks,\nKim\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Product chat <chat@localhost> wrote:\n" + QUOTED
    )
    assert new_text(text) == "On Monday we ship it.\nAm Dienstag kommt es an.\nLe colis part lundi.\n\nThanks,\nKim"
    for header in (
        "On Mon, 3 Mar 2025 at 10:00, Product chat <chat@localhost> wrote:",
        "Am 03.03.2025 um 10:00 schrieb Product chat <chat@localhost>:",
        "Le 3 mars 2025 à 10:00, Product chat a écrit :",
    ):
        # A one-line reply that starts like a quote line is never joined onto the real one.
        assert new_text(f"On its way.\n\n{header}\n{QUOTED}") == "On its way."
        assert new_text(f"Am Montag.\n{header}\n{QUOTED}") == "Am Montag."
        assert new_text(f"Le colis part.\n\n{header}\n{QUOTED}") == "Le colis part."


def test_html_becomes_text_never_markup():
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<p>Yes, <b>tomorrow</b> &amp; <i>free</i>.</p><p>Line one<br>line two</p>"
        "<ul><li>first</li><li>second</li></ul><script>alert(1)</script>"
        "<blockquote>quoted <b>text</b><blockquote>deeper</blockquote></blockquote></body></html>"
    )
    assert html_to_text(html) == "Yes, tomorrow & free.\nLine one\nline two\nfirst\nsecond\n> quoted text\n> > deeper\n"
    assert new_text(html_to_text(html)) == "Yes, tomorrow & free.\nLine one\nline two\nfirst\nsecond"
    # An entity stays text: "<b>" here is what the person typed, shown escaped like any text.
    assert html_to_text("<p>a &lt;b&gt; c</p>") == "a <b> c\n"


def test_format_flowed_lines_are_joined():
    flowed = "This answer was written \nin a mail program that \nwraps lines.\n\n-- \nKim\n"
    assert unflow(flowed) == "This answer was written in a mail program that wraps lines.\n\n-- \nKim\n"
    assert unflow("no space at\nthe end\n") == "no space at\nthe end\n"
    assert unflow("del \nsp\n", delsp=True) == "delsp\n"
