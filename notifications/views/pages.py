"""The HTML list page, /notifications/: server-rendered, paginated by seq, usable without JavaScript
(mark read / mark all read / delete / archive / unarchive / snooze are POST forms that redirect back);
notifications.js keeps it live. ?view=archived and ?view=snoozed list those instead of the inbox.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from notifications import api
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification, NotificationNotFound
from notifications.templatetags.notifications import client_config, safe_href
from notifications.views.base import VIEWS, cursor, ids, seq_page, snooze_time


@login_required
@require_safe
def notification_page(request: HttpRequest) -> HttpResponse:
    """The full list, newest first: ?filter=unread|all, ?before=<seq> for older pages,
    ?view=inbox|archived|snoozed."""
    unread_only = request.GET.get("filter") == "unread"
    view = request.GET.get("view", "inbox")
    if view not in VIEWS:
        view = "inbox"
    try:
        before = cursor(request.GET, "before")
    except InvalidNotification:
        before = None
    page, more = seq_page(
        request.user,
        unread=unread_only,
        before=before,
        after=None,
        limit=app_settings.PAGE_SIZE,
        view=view,
    )
    current = "unread" if unread_only else "all"
    return render(
        request,
        "notifications/list.html",
        {
            "notifications": [(n, safe_href(n.url)) for n in page],
            "filter": current,
            "view": view,
            "first_page": before is None,
            "next_before": page[-1].seq if more else None,
            "config": client_config(request),
            "here": request.get_full_path(),
        },
    )


def _back(request: HttpRequest) -> HttpResponse:
    """Redirect to the `next` field if it is a URL of this site, else to the list page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("notifications:list")
    return redirect(target)


def _page_change(
    request: HttpRequest, change: Callable[[], list[int]], done: Callable[[int], str]
) -> HttpResponse:
    try:
        ids = change()
    except NotificationNotFound:
        messages.error(
            request,
            _("Nothing changed: a notification is not yours or no longer exists."),
            fail_silently=True,
        )
    except InvalidNotification as exc:
        messages.error(
            request, _("Nothing changed: %(error)s") % {"error": exc}, fail_silently=True
        )
    else:
        messages.success(request, done(len(ids)), fail_silently=True)
    return _back(request)


def _marked_read(count: int) -> str:
    return ngettext(
        "Marked %(count)d notification as read.", "Marked %(count)d notifications as read.", count
    ) % {"count": count}


def _deleted(count: int) -> str:
    return ngettext(
        "Deleted %(count)d notification.", "Deleted %(count)d notifications.", count
    ) % {"count": count}


@login_required
@require_POST
def page_mark_read(request: HttpRequest) -> HttpResponse:
    """Form post: mark the `ids` read, then go back."""
    return _page_change(request, lambda: api.mark_read(request.user, ids(request)), _marked_read)


@login_required
@require_POST
def page_mark_all_read(request: HttpRequest) -> HttpResponse:
    """Form post: mark everything read, then go back."""
    return _page_change(request, lambda: api.mark_all_read(request.user), _marked_read)


@login_required
@require_POST
def page_delete(request: HttpRequest) -> HttpResponse:
    """Form post: delete the `ids`, then go back."""
    return _page_change(request, lambda: api.delete(request.user, ids(request)), _deleted)


def _archived(count: int) -> str:
    return ngettext(
        "Archived %(count)d notification.", "Archived %(count)d notifications.", count
    ) % {"count": count}


def _unarchived(count: int) -> str:
    return ngettext(
        "Moved %(count)d notification back to the inbox.",
        "Moved %(count)d notifications back to the inbox.",
        count,
    ) % {"count": count}


def _snoozed(count: int) -> str:
    return ngettext(
        "Snoozed %(count)d notification.", "Snoozed %(count)d notifications.", count
    ) % {"count": count}


@login_required
@require_POST
def page_archive(request: HttpRequest) -> HttpResponse:
    """Form post: archive the `ids`, then go back."""
    return _page_change(request, lambda: api.archive(request.user, ids(request)), _archived)


@login_required
@require_POST
def page_unarchive(request: HttpRequest) -> HttpResponse:
    """Form post: bring the `ids` back to the inbox, then go back."""
    return _page_change(request, lambda: api.unarchive(request.user, ids(request)), _unarchived)


@login_required
@require_POST
def page_snooze(request: HttpRequest) -> HttpResponse:
    """Form post: snooze the `ids` until the `preset` (in the current time zone), then go back."""
    return _page_change(
        request, lambda: api.snooze(request.user, ids(request), snooze_time(request)), _snoozed
    )
