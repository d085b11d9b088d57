"""Translated once: every user-facing string goes through gettext, and the French translation that
ships (notifications/locale/fr) is complete, compiled, and shown under Accept-Language: fr."""

from __future__ import annotations

import ast
import gettext
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from notifications import digests, notify, unread_count
from notifications.digests import Digest, unsubscribe_token
from notifications.models import Notification, PendingEmail

APP = Path(__file__).resolve().parent.parent / "notifications"
LOCALE = APP / "locale"
CATALOGS = sorted((LOCALE / "fr" / "LC_MESSAGES").glob("*.po"))


def entries(po: Path) -> list[dict[str, Any]]:
    """The entries of a .po file: msgid, msgid_plural, msgstr (a list) and flags."""
    found = []
    for block in po.read_text().strip().split("\n\n"):
        entry: dict[str, Any] = {"flags": [], "msgstr": []}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += [flag.strip() for flag in line[2:].split(",")]
                continue
            if line.startswith("#"):
                continue
            match = re.match(r"^(msgid|msgid_plural|msgstr(?:\[\d+\])?) (\".*\")$", line)
            if match:
                key = match[1]
                value = ast.literal_eval(match[2])
                if key.startswith("msgstr"):
                    entry["msgstr"].append(value)
                else:
                    entry[key] = value
            elif key is not None:
                if key.startswith("msgstr"):
                    entry["msgstr"][-1] += ast.literal_eval(line)
                else:
                    entry[key] += ast.literal_eval(line)
        found.append(entry)
    return found


def gettext_tools() -> None:
    """Skip without GNU gettext (msgfmt, xgettext), except in CI, which installs it (.ci/run)."""
    if shutil.which("msgfmt") and shutil.which("xgettext"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("GNU gettext (msgfmt, xgettext) is missing in CI: .ci/run installs it")
    pytest.skip("GNU gettext (msgfmt, xgettext) is not installed: apt-get install gettext")


def test_french_ships_both_catalogs() -> None:
    assert [po.name for po in CATALOGS] == ["django.po", "djangojs.po"]


@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: po.name)
def test_every_entry_is_translated_and_none_is_fuzzy(po: Path) -> None:
    header, *rest = entries(po)
    assert header["msgid"] == "" and "Language: fr" in header["msgstr"][0]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header["msgstr"][0]
    assert rest
    untranslated = [e["msgid"] for e in rest if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries(po) if "fuzzy" in e["flags"]]
    assert (untranslated, fuzzy) == ([], [])
    plurals = [e for e in rest if "msgid_plural" in e]
    assert all(len(e["msgstr"]) == 2 for e in plurals)


@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: po.name)
def test_the_compiled_catalog_is_up_to_date(po: Path, tmp_path: Path) -> None:
    gettext_tools()
    fresh = tmp_path / "fresh.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(po)], check=True)
    with fresh.open("rb") as new, po.with_suffix(".mo").open("rb") as shipped:
        assert gettext.GNUTranslations(shipped)._catalog == gettext.GNUTranslations(new)._catalog  # type: ignore[attr-defined]


def test_the_catalogs_hold_every_string_of_the_sources(tmp_path: Path) -> None:
    # makemessages on a copy of the app: a string added to the code without its translation fails.
    gettext_tools()
    copy = tmp_path / "notifications"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for domain in ("django", "djangojs"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "django",
                "makemessages",
                "-l",
                "fr",
                "-d",
                domain,
                "--no-location",
                "-i",
                "migrations/*",
            ],
            cwd=copy,
            check=True,
            capture_output=True,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "PYTHONPATH": str(APP.parent),
            },
        )
        po = Path("locale/fr/LC_MESSAGES") / f"{domain}.po"
        expected = {e["msgid"] for e in entries(copy / po)}
        assert {e["msgid"] for e in entries(APP / po)} == expected
        assert not [e["msgid"] for e in entries(copy / po) if "fuzzy" in e["flags"] and e["msgid"]]


@pytest.fixture
def client_fr(client_a: Client) -> Iterator[Client]:
    client_a.defaults["HTTP_ACCEPT_LANGUAGE"] = "fr"
    yield client_a
    # LocaleMiddleware leaves French active in this thread after the request; other tests run here.
    translation.deactivate()


def test_the_list_page_is_in_french_under_accept_language_fr(client_fr: Client, alice: Any) -> None:
    notify(alice, "x", title="Bonjour")
    page = client_fr.get(reverse("notifications:list")).content.decode()
    assert '<html lang="fr">' in page
    for text in [
        "Tout marquer comme lu",
        "(non lues : <span data-notifications-count>1</span>)",
        "Marquer comme lue",
        "Supprimer",
        "maintenant",
        "Notifications, 1 non lue",
        "Voir toutes les notifications",
    ]:
        assert text in page
    assert "Mark all read" not in page


def test_the_page_messages_are_in_french_with_plurals(client_fr: Client, alice: Any) -> None:
    notify(alice, "x")
    notify(alice, "x")
    response = client_fr.post(reverse("notifications:page-mark-all-read"), follow=True)
    assert "2 notifications marquées comme lues." in response.content.decode()


def test_the_javascript_catalog_is_french(client_fr: Client) -> None:
    script = client_fr.get(reverse("notifications:jsi18n")).content.decode()
    assert "Notifications, %(badge)s non lues" in script
    assert "Connexion perdue !" in script  # notify.js, hq's client


def test_the_notify_command_speaks_french_with_plurals(alice: Any, bob: Any) -> None:
    out = io.StringIO()
    with translation.override("fr"):
        call_command("notify", "alice", "bob", "--title", "hi", stdout=out)
        call_command("notify", "alice", "--title", "hi", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("2 utilisateurs notifiés ; les sockets ouverts la reçoivent")
    assert lines[1].startswith("1 utilisateur notifié ;")


def test_the_english_source_has_plurals(client_a: Client, alice: Any) -> None:
    notify(alice, "x")
    response = client_a.post(reverse("notifications:page-mark-all-read"), follow=True)
    assert "Marked 1 notification as read." in response.content.decode()


def test_the_preferences_page_is_in_french_with_lazy_category_labels(
    client_fr: Client, alice: Any, settings: Any
) -> None:
    # A project's gettext_lazy() label is shown in the user's language, on the page and in the API.
    settings.NOTIFICATIONS = {"CATEGORIES": {"news": {"label": gettext_lazy("Preferences")}}}
    page = client_fr.get(reverse("notifications:preferences")).content.decode()
    for text in [
        "<title>Préférences de notification",
        "Retour aux notifications",
        "Toutes les notifications",
        'aria-label="Toutes les notifications : Dans l’application"',
        '<th scope="row">Préférences</th>',
        'aria-label="Préférences : E-mail"',
        "« Toutes les notifications » désactive un canal",
        "Enregistrer",
    ]:
        assert text in page
    assert "Back to notifications" not in page
    api = client_fr.get(reverse("notifications:api-preferences")).json()
    assert api["categories"]["news"]["label"] == "Préférences"
    saved = client_fr.post(reverse("notifications:preferences"), follow=True).content.decode()
    assert "Vos préférences de notification sont enregistrées." in saved


def test_the_unsubscribe_pages_are_in_french(client_fr: Client, alice: Any) -> None:
    url = reverse("notifications:unsubscribe", args=[unsubscribe_token(alice)])
    assert "Ne plus recevoir d’e-mails de notification ?" in client_fr.get(url).content.decode()
    done = client_fr.post(url).content.decode()
    assert "Vous êtes désabonné : vous ne recevrez plus d’e-mails de notification." in done
    assert (
        f'<a href="{reverse("notifications:preferences")}">préférences de notification</a>' in done
    )
    invalid = client_fr.get(reverse("notifications:unsubscribe", args=["nope"]))
    assert invalid.status_code == 400
    assert "Ce lien de désabonnement n’est pas valide." in invalid.content.decode()


def _digest(user: Any, count: int) -> Digest:
    for i in range(count):
        notify(user, "x", title=f"T{i}")
    return Digest(user, "alice@example.com", list(Notification.objects.filter(recipient=user)))


@pytest.mark.parametrize(
    ("count", "subject"), [(1, "1 notification non lue"), (2, "2 notifications non lues")]
)
def test_a_digest_email_is_in_the_sites_language_with_plurals(
    alice: Any, settings: Any, count: int, subject: str
) -> None:
    settings.LANGUAGE_CODE = "fr"
    message = digests.email_message(_digest(alice, count))
    [(html, _)] = message.alternatives
    assert message.subject == subject
    assert message.body.startswith(f"Bonjour alice,\n\nVous avez {subject} :\n")
    assert "Ne plus recevoir ces e-mails : " in message.body
    assert '<html lang="fr">' in html and f"Vous avez {subject} :" in html
    assert "Se désabonner de ces e-mails" in html


def test_a_digest_email_ignores_the_language_active_where_it_is_sent(alice: Any) -> None:
    # The site's LANGUAGE_CODE (en-us here), not that of the request or command that runs the digests.
    with translation.override("fr"):
        message = digests.email_message(_digest(alice, 2))
    assert message.subject == "2 unread notifications"
    assert message.body.startswith("Hello alice,")


def test_the_hq_confirm_pages_are_in_french(client_fr: Client, alice: Any) -> None:
    page = client_fr.get(reverse("notifications:mark_all_as_read")).content.decode()
    assert "Marquer toutes les notifications comme lues" in page
    [n] = notify(alice, "x")
    page = client_fr.get(reverse("notifications:delete", args=[n.slug])).content.decode()
    assert "Supprimer cette notification" in page
    missing = client_fr.get(reverse("notifications:mark_as_read", args=[n.slug + 1000]))
    assert missing.status_code == 404
    assert "Cette notification n’existe pas (ou plus)." in missing.content.decode()
    assert unread_count(alice) == 1


def test_the_digest_command_speaks_french_with_plurals(
    alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alice.email = "alice@example.com"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):  # the email backend queues after commit
        notify(alice, "x")
    PendingEmail.objects.update(created_at=F("created_at") - timedelta(days=1))
    out = io.StringIO()
    with translation.override("fr"):
        call_command("send_notification_digests", "--dry-run", stdout=out)
    assert out.getvalue().splitlines() == [
        "enverrait à alice <alice@example.com> : 1 notification",
        "1 récapitulatif serait envoyé, listant 1 notification ; 0 en échec ; 0 utilisateur ignoré.",
    ]


def test_the_hq_conversion_command_speaks_french(db: None) -> None:
    out = io.StringIO()
    with translation.override("fr"):
        call_command("convert_hq_notifications", "--dry-run", stdout=out)
        with pytest.raises(CommandError, match=r"--batch-size doit valoir au moins 1\."):
            call_command("convert_hq_notifications", "--dry-run", "--batch-size", "0")
    assert out.getvalue() == "Pas de table django-notifications-hq : rien à convertir.\n"


def test_the_admins_test_push_is_in_the_sites_language(
    alice: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notifications import push_tasks
    from notifications.models import PushSubscription
    from notifications.webpush import Outcome
    from tests.test_push_setup import GOOD

    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    settings.LANGUAGE_CODE = "fr"
    sent: list[str] = []

    def push(subscription: Any, data: str, *args: Any, **kwargs: Any) -> Outcome:
        sent.append(data)
        return Outcome("sent")

    monkeypatch.setattr(push_tasks, "push", push)
    subscription = PushSubscription.objects.create(
        user=alice, endpoint="https://push.example.com/x", p256dh="x", auth="y"
    )
    push_tasks.send_test_push.enqueue(subscription.pk)
    [data] = sent
    payload = json.loads(data)
    assert (payload["title"], payload["body"]) == (
        "Notification de test",
        "Web Push atteint ce navigateur.",
    )


def test_the_vapid_keys_command_help_is_french() -> None:
    from notifications.management.commands.notifications_vapid_keys import Command

    with translation.override("fr"):
        assert (
            "Affiche une nouvelle paire de clés VAPID"
            in Command().create_parser("manage.py", "notifications_vapid_keys").format_help()
        )
