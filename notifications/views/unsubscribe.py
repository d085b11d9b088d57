"""The unsubscribe link of digest emails: no login, the signed token names the user.

GET shows a confirmation form (link scanners and prefetching mail clients follow GETs, so a GET never
changes anything); POST turns email off for every category, whether it comes from that form or from a
mail client's RFC 8058 one-click request (``List-Unsubscribe=One-Click``, which carries no cookie: the
token, not a CSRF token, is what authorises it).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications import preferences
from notifications.digests import user_pk_from_token


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user_pk = user_pk_from_token(token)
        user = get_user_model()._default_manager.filter(pk=user_pk).first()
    except (signing.BadSignature, ValueError, ValidationError):  # a pk of the wrong type
        user = None
    if user is None:
        return render(request, "notifications/unsubscribe.html", {"state": "invalid"}, status=400)
    if request.method == "POST":
        preferences.unsubscribe_email(user)
        return render(request, "notifications/unsubscribe.html", {"state": "done"})
    return render(request, "notifications/unsubscribe.html", {"state": "confirm"})
