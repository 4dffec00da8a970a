"""Languages: the shipped catalogs are complete, the shopper's language is chosen as the
tag, the browser and the site say, and every page, error and mail speaks it."""

import json
import re
import uuid
from datetime import timedelta
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from chat import ROOT, i18n
from chat.extensions import db
from chat.mail import deliver_due
from chat.models import OutboxEmail, Product, ProductInquiry, Shopper, WebhookEndpoint, utcnow
from chat.services import conversations, mail_in, notifications, reply_addresses, shoppers, webhooks

from .chat_helpers import Shopper as Browser
from .chat_helpers import first_product_id
from .smtp_helpers import Inbox

# What an admin alone sees: English and German are shipped for these; every other string
# reaches shoppers and ships in every language.
ADMIN_ONLY = (
    "templates/admin/",
    "templates/email/admin_",
    "chat/admin/",
    "chat/api/admin",
    "chat/services/site_languages.py",
    "chat/services/admin_sessions.py",
    "chat/services/admin_tokens.py",
    "chat/services/access.py",
    "chat/services/audit.py",
    "chat/services/audit_text.py",
    "chat/services/canned.py",
    "chat/services/catalog.py",
    "chat/services/inquiries.py",
    "chat/services/metrics.py",
    "chat/services/people.py",
    "chat/services/privacy.py",
    "chat/services/push.py",
    "chat/services/questions.py",
    "chat/services/sites.py",
    "chat/services/webhooks.py",
    "chat/outbound.py",
    "chat/workflow_notes.py",  # the panel's workflow notes (the one a shopper sees is in the templates)
    "static/js/",
)
SHOPPER_LANGUAGES = ("de", "fr", "es", "ar")


def extracted():
    """msgid -> the files it is in, as `make extract` (babel.cfg) finds them."""
    method_map = [("chat/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "lazy_gettext": None,
    }
    found = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, keywords=keywords, options_map={}
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, set()).add(filename)
    return found


def catalog(code):
    with open(i18n.catalog_paths()[code], "rb") as fh:
        return read_po(fh, locale=code)


def test_the_template_holds_every_string_the_code_and_templates_use():
    with open(f"{ROOT}/chat/translations/messages.pot", "rb") as fh:
        template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(fh) if m.id}
    missing = sorted(set(extracted()) - template)
    assert missing == [], f"run `make extract` and translate: {missing}"


@pytest.mark.parametrize("code", SHOPPER_LANGUAGES)
def test_every_shipped_catalog_is_complete_without_fuzzy_or_broken_entries(code):
    shipped = catalog(code)
    found = extracted()
    entries = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in shipped if m.id}
    needed = [
        msgid
        for msgid, files in found.items()
        if code == "de" or not all(f.startswith(ADMIN_ONLY) for f in files)  # the panel: English and German
    ]
    untranslated = [
        msgid
        for msgid in needed
        if msgid not in entries
        or "fuzzy" in entries[msgid].flags
        or not all(entries[msgid].string if isinstance(entries[msgid].string, tuple) else [entries[msgid].string])
    ]
    assert untranslated == [], f"{code}: {len(untranslated)} of {len(needed)} strings untranslated: {untranslated[:10]}"
    broken = [(m.id, [str(e) for e in errors]) for m, errors in shipped.check()]
    assert broken == []  # placeholders that the English does not have, a wrong number of plural forms


def page(client, path, **headers):
    return client.get(path, headers=headers).get_data(as_text=True)


def test_the_tags_language_wins_then_the_browsers_then_the_sites_default(app, client, demo):
    german = page(client, "/embed/demo/products/1?locale=de&languages=fr-FR,fr")
    assert '<html lang="de" dir="ltr">' in german and "Ihre Frage eingeben…" in german
    assert "Hallo! Fragen Sie uns alles zu" in german and "129,00\xa0€" in german  # the price too
    french = page(client, "/embed/demo/products/1?languages=it,fr-CA,en")  # Italian is not shipped: French
    assert '<html lang="fr" dir="ltr">' in french and "Écrivez votre question…" in french
    arabic = page(client, "/embed/demo/products/1", **{"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"})
    assert '<html lang="ar" dir="rtl">' in arabic and "اكتب سؤالك…" in arabic
    nothing = page(client, "/embed/demo/products/1?languages=ja,zh", **{"Accept-Language": "ko"})
    assert '<html lang="en" dir="ltr">' in nothing and "Type your question…" in nothing
    assert "Accept-Language" in client.get("/embed/demo/products/1").headers["Vary"]  # for caches


def test_a_language_from_the_page_is_only_ever_one_of_ours(app, client, demo):
    hostile = '"><script>alert(1)</script>'
    html = page(client, f"/embed/demo/products/1?locale={hostile}&languages={hostile},de")
    assert '<html lang="de" dir="ltr">' in html and "<script>alert" not in html
    loader = client.get("/embed/demo/allowed", query_string={"locale": hostile, "languages": "x" * 5000}).get_json()
    assert loader["strings"]["lang"] == "en" and "script" not in str(loader)


def test_the_loader_gets_its_words_and_side_in_the_shoppers_language(app, client, demo):
    arabic = client.get("/embed/demo/allowed?locale=ar&languages=de").get_json()
    assert arabic["allowed"] is True
    assert arabic["strings"]["lang"] == "ar" and arabic["strings"]["dir"] == "rtl"
    assert arabic["strings"]["ask"] == "اطرح سؤالًا"
    german = client.get("/embed/demo/allowed?languages=de-AT,en").get_json()["strings"]
    assert german["ask"] == "Frage stellen" and german["many"] == "Frage stellen, %(num)s ungelesene Antworten"


class LocaleBrowser(Browser):
    """The chat page's requests carry its language (embed.js: X-Chat-Locale)."""

    def __init__(self, app, locale):
        super().__init__(app)
        self.locale = locale

    def headers(self, **extra):
        return super().headers(**{"X-Chat-Locale": self.locale, **extra})


def test_fragments_and_refusals_speak_the_pages_language(app, demo):
    shopper = LocaleBrowser(app, "ar")
    sent = shopper.send(1, "هل يوجد مقاس M؟ SKU-42")
    assert sent.status_code == 201
    html = sent.get_data(as_text=True)
    assert '<p class="text" dir="auto">هل يوجد مقاس M؟ SKU-42</p>' in html and "المتجر:" not in html
    assert "أنت:" in html and "البريد الإلكتروني" in html  # "You:" and the email form
    empty = shopper.send(1, "   ")
    assert empty.status_code == 422 and "يرجى كتابة رسالة." in empty.get_data(as_text=True)
    shopper.locale = "de"
    bad = shopper.post("/email", data={"customer_email": "no-at-sign", "email_consent": "yes"})
    assert bad.status_code == 422 and "Bitte geben Sie genau eine E-Mail-Adresse ein" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Shopper.language)) == "ar"  # the language they wrote in


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    inbox.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox.port, PUBLIC_BASE_URL="http://chat.test")
    yield inbox
    inbox.stop()


def test_the_answer_mail_speaks_the_language_of_the_conversation(app, demo, smtp):
    shopper = LocaleBrowser(app, "fr")
    shopper.send(1, "Est-ce que ça passe au lave-vaisselle ?")
    with app.app_context():
        product_id = first_product_id(app)
        session = db.session.scalar(sa.select(Shopper.session_id))
        shoppers.set_email(session, "lea@example.com", True)
        inquiry = conversations.find_inquiry(product_id, session)
        conversations.add_admin_message(inquiry.id, "Oui, sans problème.")
        db.session.execute(sa.delete(OutboxEmail))
        db.session.commit()
        later = utcnow() + timedelta(minutes=app.config["NOTIFY_CUSTOMER_UNREAD_MINUTES"] + 1)
        assert notifications.scan(now=later) == 1
        deliver_due()
    _rcpt, message = next((r, m) for r, m in smtp.mails if r == ["lea@example.com"])
    assert message["Subject"].startswith("La boutique a répondu à votre question sur")
    text = message.get_body(("plain",)).get_content()
    assert "Bonjour," in text and "Oui, sans problème." in text and "Reprendre la conversation :" in text
    assert re.search(r"Vous pouvez retirer votre adresse e-mail", text)


def test_the_sites_languages_api_reads_and_replaces_both_or_nothing(app, demo, admin):
    client, token, _ = admin
    headers = {"X-CSRFToken": token}
    assert client.get("/api/admin/sites/demo/languages").get_json() == {
        "default": "en",
        "enabled": ["en", "de", "fr", "es", "ar"],  # every shipped language until the shop chooses
    }
    body = client.put(
        "/api/admin/sites/demo/languages", headers=headers, json={"default": "de", "enabled": ["fr", "de"]}
    )
    assert body.status_code == 200 and body.get_json() == {"default": "de", "enabled": ["de", "fr"]}
    for payload, field in (
        ({"default": "en", "enabled": ["en", "xx"]}, "enabled"),  # not a language we ship
        ({"default": "es", "enabled": ["en", "de"]}, "default"),  # not enabled
        ({"default": "en", "enabled": []}, "enabled"),
        ({"default": "<b>", "enabled": "en"}, "default"),
        ({"enabled": ["en"]}, "default"),
    ):
        response = client.put("/api/admin/sites/demo/languages", headers=headers, json=payload)
        assert response.status_code == 422 and field in response.get_json()["fields"], payload
    assert client.get("/api/admin/sites/demo/languages").get_json() == {"default": "de", "enabled": ["de", "fr"]}
    assert client.put("/api/admin/sites/nope/languages", headers=headers, json={}).status_code == 404
    assert app.test_client().get("/api/admin/sites/demo/languages").status_code == 401
    assert client.put("/api/admin/sites/demo/languages", json={"default": "en", "enabled": ["en"]}).status_code == 400
    # Shoppers now get French or German only: an Arabic browser the default, a tag's "ar" is ignored.
    shopper = app.test_client()
    arabic = page(shopper, "/embed/demo/products/1?locale=ar", **{"Accept-Language": "ar,en;q=0.5"})
    assert '<html lang="de" dir="ltr">' in arabic
    assert '<html lang="fr"' in page(shopper, "/embed/demo/products/1?languages=es,fr")
    assert shopper.get("/embed/demo/allowed?locale=ar").get_json()["strings"]["lang"] == "de"


def test_the_sites_page_sets_its_languages(app, demo, admin):
    client, token, _ = admin
    page_html = client.get("/admin/sites/demo").get_data(as_text=True)
    assert 'id="languages"' in page_html and 'value="ar" checked' in page_html
    form = {"csrf_token": token, "default": "es", "enabled": ["es", "ar"]}
    response = client.post("/admin/sites/demo/languages", data=form)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/sites/demo#languages")
    refused = client.post("/admin/sites/demo/languages", data={**form, "default": "de"})
    assert refused.status_code == 422
    assert 'id="languages-default-error">The default language must be one of the enabled ones.' in refused.get_data(
        as_text=True
    )
    assert client.get("/api/admin/sites/demo/languages").get_json() == {"default": "es", "enabled": ["es", "ar"]}


def test_each_admin_picks_the_panels_language_else_their_browsers(app, demo, admin):
    client, token, _ = admin
    assert "Wartet auf uns" in page(client, "/admin", **{"Accept-Language": "de-DE,de;q=0.9"})
    english = page(client, "/admin", **{"Accept-Language": "fr-FR,fr"})  # the panel ships English and German
    assert '<html lang="en"' in english and "Waiting for us" in english
    saved = client.post("/admin/account/language", data={"csrf_token": token, "language": "de"})
    assert saved.status_code == 302
    german = page(client, "/admin", **{"Accept-Language": "en-US"})  # their choice wins
    assert '<html lang="de" dir="ltr">' in german and "Niemand wartet auf eine Antwort." in german
    account = page(client, "/admin/account")
    assert "Sprache des Adminbereichs" in account and '<option value="de" lang="de" selected>' in account
    refused = client.post("/admin/account/language", data={"csrf_token": token, "language": "ar"})
    assert refused.status_code == 422 and "Wählen Sie eine der Sprachen des Adminbereichs." in refused.get_data(
        as_text=True
    )
    client.post("/admin/account/language", data={"csrf_token": token, "language": ""})
    assert "Waiting for us" in page(client, "/admin", **{"Accept-Language": "en"})


def test_published_qa_carry_their_language_and_suggestions_prefer_the_shoppers(app, demo, admin):
    client, token, _ = admin
    headers = {"X-CSRFToken": token}
    LocaleBrowser(app, "de").send(1, "Passt ein Laptop hinein?")
    with app.app_context():
        product_id = first_product_id(app)
        session = db.session.scalar(sa.select(Shopper.session_id))
        inquiry_id = conversations.find_inquiry(product_id, session).id
    german = client.post(
        f"/api/admin/inquiries/{inquiry_id}/publish",
        headers=headers,
        json={"question": "Passt ein Laptop hinein?", "answer": "Ja, bis 15 Zoll."},
    ).get_json()
    assert german["language"] == "de"  # the shopper chatted in German
    english = client.post(
        f"/api/admin/inquiries/{inquiry_id}/publish",
        headers=headers,
        json={"question": "Does a laptop fit?", "answer": "Yes, up to 15 inch.", "language": "en"},
    ).get_json()
    assert english["language"] == "en"
    bad = client.post(
        f"/api/admin/inquiries/{inquiry_id}/publish",
        headers=headers,
        json={"question": "q", "answer": "a", "language": "xx"},
    )
    assert bad.status_code == 422 and "language" in bad.get_json()["fields"]
    qa = page(client, f"/products/{product_id}/questions/{german['id']}")
    structured = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', qa, re.S).group(1))
    assert structured["inLanguage"] == "de" and structured["mainEntity"]["acceptedAnswer"]["inLanguage"] == "de"
    assert '<h1 class="qa-question" lang="de" dir="auto">' in qa
    # "Laptop" matches both: each shopper sees the one in their own language first.
    api = app.test_client()
    first = api.get(f"/api/products/{product_id}/suggestions?q=laptop&language=de").get_json()["questions"][0]
    assert first["language"] == "de"
    first = api.get(f"/api/products/{product_id}/suggestions?q=laptop&language=en").get_json()["questions"][0]
    assert first["language"] == "en"
    widget = LocaleBrowser(app, "en")
    with app.app_context():
        external = db.session.get(Product, product_id).external_id
    box = widget.get(f"/products/{external}/suggestions", query_string={"message_text": "laptop"})
    assert box.get_data(as_text=True).index("Does a laptop fit?") < box.get_data(as_text=True).index("Passt ein")


def test_an_admins_mails_speak_the_panels_language_they_chose(app, demo, admin):
    client, token, _ = admin
    client.post("/admin/account/language", data={"csrf_token": token, "language": "de"})
    LocaleBrowser(app, "fr").send(1, "URGENT: it arrived broken")  # an urgent question mails the admins
    with app.app_context():
        subjects = set(
            db.session.scalars(sa.select(OutboxEmail.subject).where(OutboxEmail.to_addr == demo["admin_email"]))
        )
        bodies = db.session.scalars(sa.select(OutboxEmail.body_text).where(OutboxEmail.to_addr == demo["admin_email"]))
        body = next(iter(bodies))
    assert any(s.startswith("Dringende Frage zu") for s in subjects), subjects
    assert "Eine dringende Frage zu" in body and "URGENT: it arrived broken" in body


def _raw_mail(sender, to, text):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Re: votre question"
    message["Message-ID"] = f"<{uuid.uuid4()}@shopper.example>"
    message.set_content(text)
    return message.as_bytes()


def test_a_refused_mail_is_explained_in_the_language_of_the_senders_conversation(app, demo, smtp):
    app.config.update(MAIL_REPLY_DOMAIN="reply.test")
    LocaleBrowser(app, "fr").send(1, "Est-ce que ça passe au lave-vaisselle ?")
    LocaleBrowser(app, "es").send(1, "¿Se puede lavar a máquina?")
    with app.app_context():
        sessions = db.session.scalars(sa.select(Shopper.session_id).order_by(Shopper.id)).all()
        for session, address in zip(sessions, ("lea@example.com", "ana@example.com")):
            shoppers.set_email(session, address, True)
        french = conversations.find_inquiry(first_product_id(app), sessions[0])
        reply_to = reply_addresses.for_customer(french)
        # Léa's reply to our mail holds only the quote (their conversation says French);
        # Ana writes to an address of ours that is no reply address (their last conversation: Spanish).
        assert mail_in.receive(_raw_mail("lea@example.com", reply_to, "> Oui.")).outcome == mail_in.EMPTY
        assert mail_in.receive(_raw_mail("ana@example.com", "shop@reply.test", "Hola")).outcome == mail_in.NO_ADDRESS
        deliver_due()
    [lea] = [m for r, m in smtp.mails if r == ["lea@example.com"]]
    assert lea["Subject"] == "Votre e-mail n’a pas rejoint la conversation"
    text = lea.get_body(("plain",)).get_content()
    assert "nous n’avons trouvé aucun texte de votre part" in text and "Ceci est un message automatique" in text
    assert 'dir="ltr"' in lea.get_body(("html",)).get_content()
    [ana] = [m for r, m in smtp.mails if r == ["ana@example.com"]]
    assert ana["Subject"] == "Tu correo no llegó a la conversación"
    assert "no se envió a la dirección de respuesta" in ana.get_body(("plain",)).get_content()


def test_a_german_admin_gets_the_digest_and_the_webhook_mail_in_german(app, demo, admin):
    client, token, _ = admin
    client.post("/admin/account/language", data={"csrf_token": token, "language": "de"})
    app.config["CHAT_URGENT_MAILS_PER_HOUR"] = 0  # every urgent question goes into the hour's digest
    LocaleBrowser(app, "fr").send(1, "URGENT: it arrived broken")
    LocaleBrowser(app, "fr").send(2, "URGENT: wrong item")
    with app.app_context():
        mine = sa.select(OutboxEmail).where(OutboxEmail.to_addr == demo["admin_email"])
        [digest] = db.session.scalars(mine.where(OutboxEmail.dedupe_key.like("digest:%"))).all()
        assert digest.subject == "Weitere dringende Fragen (2)"
        assert "Weitere Fragen sind eingegangen, die dringend klingen" in digest.body_text
        assert ">beantworten</a>" in digest.body_html
        endpoint = WebhookEndpoint(
            url="https://hooks.example/chat",
            events="inquiry.created",
            secret="whsec_x",
            disabled_at=utcnow(),
            disabled_reason=webhooks.failed_for(24),
        )
        db.session.add(endpoint)
        db.session.flush()
        notifications.queue_webhook_disabled(endpoint)
        db.session.commit()
        [mail] = db.session.scalars(mine.where(OutboxEmail.dedupe_key.like("webhook-disabled:%"))).all()
    assert mail.subject == "Ein Webhook-Endpunkt wurde deaktiviert"
    assert "Wir senden keine Ereignisse mehr" in mail.body_text
    assert "jeder Versuch schlug 24 Stunden lang fehl" in mail.body_text and "Endpunkt ansehen:" in mail.body_text


def test_a_german_admin_sees_the_services_refusals_and_the_push_section_in_german(app, demo, admin):
    client, token, _ = admin
    client.post("/admin/account/language", data={"csrf_token": token, "language": "de"})
    account = page(client, "/admin/account")
    assert "Benachrichtigte Geräte" in account and "Noch wird kein Gerät benachrichtigt." in account
    assert "Benachrichtigen bei" in account and "Neue Fragen" in account and "Devices notified" not in account
    hours = client.post(
        "/admin/sites/demo/hours",
        data={"csrf_token": token, "mode": "hours", "timezone": "Europe/Berlin", "mon": "9 to 5"},
    )
    assert hours.status_code == 422
    assert "Montag: Schreiben Sie Zeiträume wie 09:00-17:30" in hours.get_data(as_text=True)
    missing = client.get("/admin/inquiries/999999")
    assert missing.status_code == 404
    assert "404 · Nicht gefunden" in missing.get_data(as_text=True), missing.get_data(as_text=True)
    assert "Diese Anfrage gibt es nicht." in missing.get_data(as_text=True)
    people = page(client, "/admin/people")
    assert "Jemanden einladen" in people and "Inhaber" in people and "Invite someone" not in people
    # The JSON API answers in the request's language.
    refused = client.post(
        "/api/admin/webhooks", headers={"X-CSRFToken": token, "Accept-Language": "de"}, json={"url": "", "events": []}
    )
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["url"] == "erforderlich", refused.get_json()
    english = client.post("/api/admin/webhooks", headers={"X-CSRFToken": token}, json={"url": "", "events": []})
    assert english.get_json()["fields"]["url"] == "required"


def test_workflow_notes_stored_in_english_read_in_the_panels_language(app, demo, admin):
    client, token, ids = admin
    LocaleBrowser(app, "fr").send(1, "Bonjour")
    with app.app_context():
        inquiry_id = db.session.scalar(sa.select(ProductInquiry.id))
    headers = {"X-CSRFToken": token, "HX-Request": "true"}
    client.post(f"/admin/inquiries/{inquiry_id}/status", data={"status": "resolved"}, headers=headers)
    client.post(f"/admin/inquiries/{inquiry_id}/priority", data={"priority": "high"}, headers=headers)
    client.post(f"/admin/inquiries/{inquiry_id}/assignee", data={"admin_id": ids["bo"]}, headers=headers)
    client.post(f"/admin/inquiries/{inquiry_id}/assignee", data={"admin_id": ids["me"]}, headers=headers)
    english = page(client, f"/admin/inquiries/{inquiry_id}", **{"Accept-Language": "en"})
    assert "Marked resolved by Demo Admin" in english and "Assigned to Bo by Demo Admin" in english
    client.post("/admin/account/language", data={"csrf_token": token, "language": "de"})
    german = page(client, f"/admin/inquiries/{inquiry_id}")
    for line in (
        "Als „erledigt“ markiert von Demo Admin",
        "Priorität auf „hoch“ gesetzt von Demo Admin",
        "Bo zugewiesen von Demo Admin",
        "Übernommen von Demo Admin",
    ):
        assert line in german, line
    assert "Marked resolved by" not in german


def test_a_german_admin_reads_field_labels_audit_entries_webhook_reasons_and_the_offline_page_in_german(
    app, demo, admin
):
    client, token, _ = admin
    client.post("/admin/account/language", data={"csrf_token": token, "language": "de"})
    # A validation message names the field in the panel's words ("Suche", not "Search").
    listing = client.get("/admin/inquiries", query_string={"q": "a\x00b"})
    assert "Suche enthält Zeichen, die kein gültiger Text sind." in listing.get_data(as_text=True)
    empty = client.post("/admin/sites", data={"csrf_token": token, "name": "", "origins": "https://x.example"})
    assert empty.status_code == 422 and "Bitte ausfüllen: Name." in empty.get_data(as_text=True)
    # The audit log: actions as labels, the details we wrote in German; the CSV stays machine-readable.
    hours = {"csrf_token": token, "mode": "hours", "timezone": "Europe/Berlin", "mon": "09:00-17:00"}
    assert client.post("/admin/sites/demo/hours", data=hours).status_code in (302, 303)
    audit_page = page(client, "/admin/audit")
    assert "Angemeldet" in audit_page and "Geschäftszeiten geändert" in audit_page
    assert "Zeitzone Europe/Berlin" in audit_page and "time zone Europe" not in audit_page
    assert '<option value="hours.changed">Geschäftszeiten geändert</option>' in audit_page
    csv = page(client, "/admin/audit.csv")
    assert csv.startswith('"when","who","kind","action",') and '"hours.changed"' in csv
    assert '"time zone Europe/Berlin"' in csv
    # A disabled webhook: the stored reason for scripts, a text in the request's language beside it.
    with app.app_context():
        db.session.add(
            WebhookEndpoint(
                url="https://hooks.example/x",
                events="inquiry.created",
                secret="whsec_x",
                disabled_at=utcnow(),
                disabled_reason=webhooks.failed_for(24),
            )
        )
        db.session.commit()
    [hook] = client.get("/api/admin/webhooks", headers={"Accept-Language": "de"}).get_json()["webhooks"]
    assert hook["disabled_reason"] == "every attempt failed for 24 hours"
    assert hook["disabled_reason_text"] == "jeder Versuch schlug 24 Stunden lang fehl"
    # Offline: the worker of a German panel caches the offline page in German.
    assert 'data-sw-url="/admin/sw.js?lang=de"' in page(client, "/admin")
    worker = page(app.test_client(), "/admin/sw.js?lang=de")
    offline = re.search(r'var SHELL = \["([^"]+)"', worker).group(1)
    assert offline == "/admin/offline?lang=de"
    assert "Sie sind offline" in page(app.test_client(), offline, **{"Accept-Language": "en"})
    assert re.search(r'var CACHE = "([^"]+)"', worker).group(1) != re.search(
        r'var CACHE = "([^"]+)"', page(app.test_client(), "/admin/sw.js?lang=en")
    ).group(1)  # a new cache on a switch: the old language's page is deleted


def test_a_french_shoppers_validation_error_is_french_through_and_through(app, demo):
    shopper = LocaleBrowser(app, "fr")
    shopper.send(1, "Est-ce que ça passe au lave-vaisselle ?")
    refused = shopper.post("/products/1/rating", data={"rating": "good", "comment": "x" * 1001})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Commentaire ne peut pas dépasser 1000 caractères (il y en a ici 1001)." in html
    # A rule a shop's developer reads in an API answer follows the request's language too.
    with app.test_request_context(headers={"X-Chat-Locale": "fr"}):
        from chat.services import validation

        with pytest.raises(validation.BadParameter) as error:
            validation.external_id("a b")
    assert error.value.fields == {"external_id": "1 à 100 caractères, sans « / », sans espace ni caractère de contrôle"}


def test_a_page_switching_language_for_a_mail_translates_in_each_and_back(app):
    # Templates keep the page's translations for the request (i18n._translations): a mail
    # written in the shopper's language in the middle of the request must not get them, nor
    # the page keep the mail's afterwards.
    words = app.jinja_env.from_string('{{ _("Messages") }} · {{ ngettext("%(num)s new", "%(num)s new", 2) }}')
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert words.render() == "Messages · 2 new"
        with i18n.force_locale("de"):
            assert words.render().startswith("Nachrichten · ")
        assert words.render() == "Messages · 2 new"


def test_template_translations_escape_their_variables_where_the_page_escapes(app):
    # The templates' gettext calls (i18n._template_gettext and its kin) keep Jinja's newstyle
    # rules: the translation is safe markup, its variables are escaped; a text mail (no
    # autoescape) gets them as written. Every call formats, so a literal percent is "%%".
    page = app.jinja_env.from_string(
        '{{ _("Private note · %(name)s", name=who) }} | {{ ngettext("%(num)s new", "%(num)s new", n) }}'
        ' | {{ pgettext("x", "Messages") }} | {{ npgettext("x", "%(num)s new", "%(num)s new", n) }}'
    )
    text = app.jinja_env.from_string(
        '{% autoescape false %}{{ _("Private note · %(name)s", name=who) }}{% endautoescape %}'
    )
    with app.test_request_context("/"):
        with i18n.force_locale("de"):
            assert page.render(who="<b>Ann</b>", n=3) == (
                "Private Notiz · &lt;b&gt;Ann&lt;/b&gt; | 3 neu | Messages | 3 new"
            )
            assert text.render(who="<b>Ann</b>") == "Private Notiz · <b>Ann</b>"
        assert app.jinja_env.from_string('{{ _("100%% sure") }}').render() == "100% sure"
