from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from notifications.api import clean_url
from notifications.constants import Level
from notifications.exceptions import InvalidNotification
from project.demo.models import Post


class SendForm(forms.Form):
    recipient = forms.ModelChoiceField(
        queryset=get_user_model()._default_manager.filter(is_active=True).order_by("username"),
        required=False,
        empty_label="Everyone",
        help_text="Leave empty to notify every active user.",
    )
    title = forms.CharField(max_length=255)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    url = forms.CharField(
        max_length=2048, required=False, help_text="A path like /x/ or an http(s) URL."
    )
    level = forms.ChoiceField(choices=Level.choices, initial=Level.INFO)

    def clean_url(self) -> str:
        try:
            return clean_url(self.cleaned_data["url"])
        except InvalidNotification as exc:
            raise forms.ValidationError(str(exc)) from exc

    def recipients(self) -> Any:
        user = self.cleaned_data["recipient"]
        return user if user is not None else self.fields["recipient"].queryset  # type: ignore[attr-defined]


class PostForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Post
        fields = ["title", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Post.Status.choices)
