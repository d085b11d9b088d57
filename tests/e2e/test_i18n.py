"""The live client in French (Chromium with locale fr-FR, so Accept-Language: fr): what the server
renders, what the client clones from its templates, and what it writes itself (the bell's label, through
the JavaScript catalog; relative times, through Intl in the page's language)."""

from __future__ import annotations

from typing import Any

import pytest

from notifications import notify

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

OPEN = "window.notifications && window.notifications.state === 'open'"


def test_the_list_page_and_the_live_client_speak_french(login: Any, alice: Any) -> None:
    page = login(alice, locale="fr-FR").new_page()
    page.goto("/notifications/")
    page.wait_for_function(OPEN, timeout=30_000)
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.evaluate("typeof django === 'object' && django.gettext('Notifications')")
    empty = page.locator("[data-notifications-page-empty]")
    assert empty.text_content() == "Aucune notification pour l\u2019instant."
    toggle = page.locator("[data-notifications-toggle]")
    assert toggle.get_attribute("aria-label") == "Notifications"

    notify(alice, "x", title="Déploiement")
    entry = page.locator("[data-notifications-page-items] > li").first
    entry.wait_for()
    # Cloned from the French templates, filled in by the client.
    assert entry.locator(".notifications-entry__time").text_content() == "maintenant"
    # Each button shows its short label and is named with the notification's title.
    for button, label, name in (
        ("mark-read", "Marquer comme lue", "Marquer « Déploiement » comme lue"),
        ("archive", "Archiver", "Archiver « Déploiement »"),
        ("delete", "Supprimer", "Supprimer « Déploiement »"),
    ):
        shown = entry.locator(f".notifications-entry__button--{button} [aria-hidden=true]")
        assert shown.text_content() == label
        assert entry.get_by_role("button", name=name, exact=True).count() == 1
    toast = page.locator(".notifications-toast")
    toast.wait_for()
    assert toast.locator("[data-notifications-dismiss]").get_attribute("aria-label") == "Fermer"
    # Written by the client itself, through the JavaScript catalog, with its plural.
    page.wait_for_function(
        "document.querySelector('[data-notifications-toggle]').getAttribute('aria-label')"
        " === 'Notifications, 1 non lue'"
    )
    notify(alice, "x", title="Encore")
    page.wait_for_function(
        "document.querySelector('[data-notifications-toggle]').getAttribute('aria-label')"
        " === 'Notifications, 2 non lues'"
    )
    toggle.click()
    item = page.locator("[data-notifications-items] > li").first
    assert item.get_by_role("button", name="Marquer « Encore » comme lue").count() == 1
    assert item.get_by_role("button", name="Archiver « Encore »", exact=True).count() == 1
    item.locator(".notifications-item__snooze > summary").click()
    snooze = item.get_by_role("button", name="Mettre en attente « Encore » : Demain", exact=True)
    assert snooze.count() == 1
    assert page.locator("[data-notifications-mark-all]").text_content() == "Tout marquer comme lu"


def test_english_stays_english(login: Any, alice: Any) -> None:
    page = login(alice, locale="en-US").new_page()
    page.goto("/notifications/")
    page.wait_for_function(OPEN, timeout=30_000)
    notify(alice, "x", title="Deployed")
    page.locator("[data-notifications-page-items] > li").first.wait_for()
    page.wait_for_function(
        "document.querySelector('[data-notifications-toggle]').getAttribute('aria-label')"
        " === 'Notifications, 1 unread'"
    )
    entry = page.locator("[data-notifications-page-items] > li").first
    assert entry.locator(".notifications-entry__time").text_content() == "now"
