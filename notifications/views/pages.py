"""The HTML list page, /notifications/: server-rendered, paginated by seq, usable without JavaScript
(mark read / mark all read / delete / archive / unarchive / snooze are POST forms that redirect back);
notifications.js keeps it live. ?view=archived and ?view=snoozed list those instead of the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy
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
            # What the page shows that the user has not seen: its "Mark these seen" form posts them.
            "unseen_ids": [n.pk for n in page if n.seen_at is None] if view == "inbox" else [],
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


def _ids_args(request: HttpRequest) -> tuple[Any, ...]:
    return (ids(request),)


def _form_post(
    verb: Callable[..., list[int]],
    done: Promise,
    doc: str,
    args: Callable[[HttpRequest], tuple[Any, ...]] = _ids_args,
) -> Any:
    """A view for a form post: `verb(request.user, *args(request))`, says `done` (by count), then
    goes back."""

    @login_required
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        try:
            changed = verb(request.user, *args(request))
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
            messages.success(request, done % {"count": len(changed)}, fail_silently=True)
        return _back(request)

    view.__doc__ = doc
    return view


_MARKED_READ = ngettext_lazy(
    "Marked %(count)d notification as read.", "Marked %(count)d notifications as read.", "count"
)
#: Also the admin's actions' messages.
ARCHIVED = ngettext_lazy(
    "Archived %(count)d notification.", "Archived %(count)d notifications.", "count"
)
UNARCHIVED = ngettext_lazy(
    "Moved %(count)d notification back to the inbox.",
    "Moved %(count)d notifications back to the inbox.",
    "count",
)
page_mark_read = _form_post(api.mark_read, _MARKED_READ, "Form post: mark the `ids` read.")
page_mark_seen = _form_post(
    api.mark_seen,
    ngettext_lazy(
        "Marked %(count)d notification as seen.", "Marked %(count)d notifications as seen.", "count"
    ),
    "Form post: mark the `ids` seen (those the page showed).",
)
page_mark_all_read = _form_post(
    api.mark_all_read, _MARKED_READ, "Form post: mark everything read.", args=lambda request: ()
)
page_delete = _form_post(
    api.delete,
    ngettext_lazy("Deleted %(count)d notification.", "Deleted %(count)d notifications.", "count"),
    "Form post: delete the `ids`.",
)
page_archive = _form_post(api.archive, ARCHIVED, "Form post: archive the `ids`.")
page_unarchive = _form_post(api.unarchive, UNARCHIVED, "Form post: bring the `ids` to the inbox.")
page_snooze = _form_post(
    api.snooze,
    ngettext_lazy("Snoozed %(count)d notification.", "Snoozed %(count)d notifications.", "count"),
    "Form post: snooze the `ids` until the `preset` (in the current time zone).",
    args=lambda request: (ids(request), snooze_time(request)),
)
