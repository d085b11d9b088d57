"""Forms of the admin: the add form, "Send a notification" to selected users, and Broadcast."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from notifications import recipients, validation
from notifications.constants import (
    GROUP_KEY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
    Level,
    is_group_key,
)
from notifications.exceptions import InvalidNotification
from notifications.models import Notification


def _clean_url(value: Any) -> str:
    try:
        return validation.clean_url(value or "")
    except InvalidNotification:
        # validation.py's message is for developers; this one is in the admin's language.
        raise forms.ValidationError(
            _("Enter a path such as /orders/3/ or an http(s) URL, without spaces."),
            code="invalid",
        ) from None


def _clean_group_key(value: Any) -> str:
    if value and not is_group_key(value):
        raise forms.ValidationError(
            _("Use ASCII letters, digits and the characters _ . : - only."), code="invalid"
        )
    return value or ""


def _notify_kwargs(form: forms.BaseForm) -> dict[str, Any]:
    """notify()'s keyword arguments after ``verb``: the form's fields that are notification fields."""
    return {k: form.cleaned_data.get(k) for k in form.fields if k in validation.KEYWORDS}


class NotificationAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """Adding a notification in the admin: validated as notify() validates, saved through it."""

    class Meta:
        model = Notification
        fields = ["recipient", *validation.VALUES]

    def clean_url(self) -> str:
        return _clean_url(self.cleaned_data.get("url"))

    def clean_group_key(self) -> str:
        return _clean_group_key(self.cleaned_data.get("group_key"))

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            validation.clean(cleaned.get("verb", ""), self.notify_kwargs())
        except InvalidNotification as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned

    def notify_kwargs(self) -> dict[str, Any]:
        return _notify_kwargs(self)


class MessageForm(forms.Form):
    """What a notification says: title, body, url, level, and the group it collapses into."""

    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(
        label=_("Body"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    url = forms.CharField(
        label=_("Link"),
        max_length=URL_MAX_LENGTH,
        required=False,
        help_text=_("A path such as /orders/3/, or an http(s) URL."),
    )
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices, initial=Level.INFO)
    group_key = forms.CharField(
        label=_("Group key"),
        max_length=GROUP_KEY_MAX_LENGTH,
        required=False,
        help_text=_(
            "Optional, such as release:2.0: a user's unread notification with the same key takes "
            "this one instead of a new row."
        ),
    )

    def clean_url(self) -> str:
        return _clean_url(self.cleaned_data.get("url"))

    def clean_group_key(self) -> str:
        return _clean_group_key(self.cleaned_data.get("group_key"))

    def notify_kwargs(self) -> dict[str, Any]:
        return _notify_kwargs(self)


class SendNotificationForm(MessageForm):
    """The intermediate page of the user admin's "Send a notification" action."""


class BroadcastForm(MessageForm):
    ALL = "all"
    GROUP = "group"

    audience = forms.ChoiceField(
        label=_("Send to"),
        choices=[(ALL, _("All active users")), (GROUP, _("The active members of one group"))],
        initial=ALL,
        widget=forms.RadioSelect,
    )
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=Group.objects.order_by("name"), required=False
    )
    field_order = ["audience", "group", "title", "body", "url", "level", "group_key"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("audience") == self.GROUP and not cleaned.get("group"):
            self.add_error("group", _("Choose the group to notify."))
        return cleaned

    def recipients(self) -> Any:
        if self.cleaned_data["audience"] == self.GROUP:
            return self.cleaned_data["group"]  # notify_many() takes its active members
        return recipients.active_users()
