"""Declarative model-event rules: ``@notify_on(Model, event)`` turns saves and deletes into notifications.

Usage, in ``<app>/notifications.py`` (discovered at start-up, like ``admin.py``)::

    from notifications import notify_on

    @notify_on(Comment, "created")
    def comment_posted(comment):
        return {
            "recipients": comment.post.author,
            "verb": "commented",
            "actor": comment.author,
            "target": comment.post,
            "title": f"{comment.author} commented on {comment.post}",
        }

    @notify_on(Post, "updated", fields=["status"])
    def status_changed(post, changes):
        old, new = changes["status"]
        return {"recipients": post.followers.all(), "verb": "changed status", "title": ...}

How a rule runs:

- ``created`` and ``deleted`` handlers get the instance; ``updated`` handlers also get ``changes``,
  ``{field name: (old, new)}`` of the fields that changed in that save (foreign keys by their id);
  ``m2m_added`` handlers get the instance and ``added``, a lazy QuerySet of the objects just added.
- ``when`` is called with the same arguments as the handler; the handler runs only if it is true.
- The handler runs after the transaction commits (never after a rollback), in its own transaction,
  and returns None, a dict of ``notify()`` keyword arguments with ``recipients``, or a list of them.
- The ``actor`` is taken out of the recipients unless the rule says ``notify_actor=True``.
- An exception in a rule is logged (logger ``notifications.rules``) with the rule's name; the save
  that triggered it has already committed and is never affected.
- Changes are detected from the values loaded with the instance (``post_init``): no extra query.
  Deferred fields (``.only()`` / ``.defer()``) that were not loaded are not tracked.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save

__all__ = ["Rule", "notify_on", "registry"]

logger = logging.getLogger("notifications.rules")

Event = Literal["created", "updated", "deleted", "m2m_added"]
EVENTS: tuple[str, ...] = ("created", "updated", "deleted", "m2m_added")
F = TypeVar("F", bound=Callable[..., Any])

# Where the values an instance was loaded (or last saved) with are kept, in its __dict__.
_SNAPSHOT = "_notifications_loaded"


@dataclass(frozen=True, eq=False)
class Rule:
    """One registered rule: ``handler`` runs for ``event`` on ``model``."""

    model: type[models.Model]
    event: str
    handler: Callable[..., Any]
    fields: frozenset[str] | None = None
    when: Callable[..., Any] | None = None
    notify_actor: bool = False
    name: str = field(default="")

    def __post_init__(self) -> None:
        if not self.name:
            h = self.handler
            name = f"{getattr(h, '__module__', '?')}.{getattr(h, '__qualname__', repr(h))}"
            object.__setattr__(self, "name", name)


def _never_raises(receiver: F) -> F:
    """A signal receiver of ours must never break the save that sent the signal."""

    @functools.wraps(receiver)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return receiver(*args, **kwargs)
        except Exception:
            logger.exception(
                "Notification rules: %s failed; no rule runs for it.", receiver.__name__
            )
            return None

    return wrapper  # type: ignore[return-value]


class Registry:
    """The rules, by model and event, and the signal receivers that run them."""

    def __init__(self) -> None:
        self._rules: dict[type[models.Model], list[Rule]] = {}
        self._tracked: dict[type[models.Model], frozenset[str]] = {}

    # Registration.

    def register(self, rule: Rule) -> Rule:
        model = rule.model
        self._rules.setdefault(model, []).append(rule)
        self._connect(model, rule)
        self._tracked.pop(model, None)
        return rule

    def unregister(self, handler_or_rule: Callable[..., Any] | Rule) -> None:
        """Remove a rule (or every rule of a handler). Receivers stay connected, and do nothing."""
        for model, rules in self._rules.items():
            rules[:] = [
                r for r in rules if r is not handler_or_rule and r.handler is not handler_or_rule
            ]
            self._tracked.pop(model, None)

    def rules(self, model: type[models.Model] | None = None) -> list[Rule]:
        if model is not None:
            return list(self._rules.get(model, []))
        return [r for rules in self._rules.values() for r in rules]

    def _for(self, model: type[models.Model], event: str) -> list[Rule]:
        return [r for r in self._rules.get(model, ()) if r.event == event]

    def _connect(self, model: type[models.Model], rule: Rule) -> None:
        uid = f"notifications.rules.{model._meta.label}"
        if rule.event == "m2m_added":
            for name in rule.fields or ():
                through = model._meta.get_field(name).remote_field.through  # type: ignore[union-attr]
                m2m_changed.connect(
                    self._on_m2m_changed, sender=through, dispatch_uid=f"{uid}.m2m.{name}"
                )
            return
        if rule.event == "updated":
            post_init.connect(self._on_post_init, sender=model, dispatch_uid=f"{uid}.init")
        post_save.connect(self._on_post_save, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(self._on_post_delete, sender=model, dispatch_uid=f"{uid}.delete")

    # Change tracking. Not django-model-utils' FieldTracker: it is declared on the model class
    # (``tracker = FieldTracker()``), which a rule on a model of another app (the user model, a
    # third-party model) cannot do, and it would add a dependency; this one hooks post_init of the
    # models that have rules and keeps only the fields those rules watch.

    def _tracked_attnames(self, model: type[models.Model]) -> frozenset[str]:
        """attnames whose loaded values are kept: those of the model's `updated` rules."""
        tracked = self._tracked.get(model)
        if tracked is None:
            names: set[str] = set()
            for rule in self._for(model, "updated"):
                if rule.fields is None:
                    names.update(
                        f.attname for f in model._meta.concrete_fields if not f.primary_key
                    )
                else:
                    names.update(model._meta.get_field(n).attname for n in rule.fields)  # type: ignore[union-attr]
            tracked = self._tracked[model] = frozenset(names)
        return tracked

    @_never_raises
    def _on_post_init(self, sender: type[models.Model], instance: models.Model, **kw: Any) -> None:
        tracked = self._tracked_attnames(sender)
        if tracked:
            _remember(instance, tracked)

    @_never_raises
    def _on_post_save(
        self,
        sender: type[models.Model],
        instance: models.Model,
        created: bool,
        raw: bool = False,
        using: str = "default",
        update_fields: Iterable[str] | None = None,
        **kw: Any,
    ) -> None:
        if raw:  # loaddata: fixtures are not events
            return
        tracked = self._tracked_attnames(sender)
        calls: list[tuple[Rule, tuple[Any, ...]]]
        if created:
            calls = [(rule, (instance,)) for rule in self._for(sender, "created")]
        else:
            changes = _changes(instance, tracked, update_fields)
            calls = []
            for rule in self._for(sender, "updated"):
                if rule.fields is None:
                    mine = changes
                else:
                    mine = {k: v for k, v in changes.items() if k in rule.fields}
                if mine:
                    calls.append((rule, (instance, mine)))
        if tracked:
            _remember(instance, tracked)
        _schedule(calls, using)

    @_never_raises
    def _on_post_delete(
        self, sender: type[models.Model], instance: models.Model, using: str = "default", **kw: Any
    ) -> None:
        rules = self._for(sender, "deleted")
        if rules:
            # The collector sets the pk to None after the last post_delete: keep it as it was.
            as_was = copy.copy(instance)
            as_was._state = copy.copy(instance._state)
            _schedule([(rule, (as_was,)) for rule in rules], using)

    @_never_raises
    def _on_m2m_changed(
        self,
        sender: type[models.Model],
        instance: models.Model,
        action: str,
        reverse: bool,
        model: type[models.Model],
        pk_set: set[Any] | None,
        using: str = "default",
        **kw: Any,
    ) -> None:
        if action != "post_add" or not pk_set:
            return
        calls: list[tuple[Rule, tuple[Any, ...]]] = []
        for owner, rules in list(self._rules.items()):
            for rule in rules:
                if rule.event != "m2m_added":
                    continue
                for name in rule.fields or ():
                    f = owner._meta.get_field(name)
                    if f.remote_field.through is not sender:  # type: ignore[union-attr]
                        continue
                    if not reverse and isinstance(instance, owner):
                        added = model._default_manager.using(using).filter(pk__in=pk_set)
                        calls.append((rule, (instance, added)))
                    elif reverse and issubclass(model, owner):
                        # Added from the other side (user.projects.add(p)): one call per owner.
                        other = type(instance)._default_manager.using(using).filter(pk=instance.pk)
                        for owner_obj in model._default_manager.using(using).filter(pk__in=pk_set):
                            calls.append((rule, (owner_obj, other)))
        _schedule(calls, using)


def _snapshot_value(value: Any) -> Any:
    # Mutable values (JSONField dicts and lists) could be changed in place: keep a copy.
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _remember(instance: models.Model, tracked: frozenset[str]) -> None:
    loaded = instance.__dict__
    instance.__dict__[_SNAPSHOT] = {
        name: _snapshot_value(loaded[name]) for name in tracked if name in loaded
    }


def _changes(
    instance: models.Model, tracked: frozenset[str], update_fields: Iterable[str] | None
) -> dict[str, tuple[Any, Any]]:
    before: dict[str, Any] = instance.__dict__.get(_SNAPSHOT) or {}
    saved = None
    if update_fields is not None:
        saved = {instance._meta.get_field(n).attname for n in update_fields}  # type: ignore[union-attr]
    changes: dict[str, tuple[Any, Any]] = {}
    for f in instance._meta.concrete_fields:
        name = f.attname
        if name not in tracked or name not in before or name not in instance.__dict__:
            continue
        if saved is not None and name not in saved:
            continue
        old, new = before[name], instance.__dict__[name]
        if old != new:
            changes[f.name] = (old, new)
    return changes


def _schedule(calls: Sequence[tuple[Rule, tuple[Any, ...]]], using: str) -> None:
    for rule, args in calls:
        transaction.on_commit(functools.partial(run, rule, args, using), using=using)


def run(rule: Rule, args: tuple[Any, ...], using: str = "default") -> int:
    """Run one rule now and notify; log and swallow any exception. Return how many were notified."""
    try:
        with transaction.atomic(using=using):
            if rule.when is not None and not rule.when(*args):
                return 0
            return sum(_notify(rule, kwargs) for kwargs in _results(rule.handler(*args)))
    except Exception:
        logger.exception("Notification rule %s failed; nobody was notified by it.", rule.name)
        return 0


def _results(result: Any) -> list[dict[str, Any]]:
    if result is None:
        return []
    if isinstance(result, dict):
        result = [result]
    if not isinstance(result, list | tuple) or not all(isinstance(r, dict) for r in result):
        raise TypeError(
            f"A notification rule must return None, a dict or a list of dicts, not {result!r}."
        )
    return list(result)


def _notify(rule: Rule, kwargs: dict[str, Any]) -> int:
    from notifications import recipients
    from notifications.api import notify

    if "recipients" not in kwargs or "verb" not in kwargs:
        raise TypeError("A rule's dict needs 'recipients' and 'verb'.")
    kwargs = dict(kwargs)
    to = kwargs.pop("recipients")
    if not rule.notify_actor:
        to = recipients.without(to, kwargs.get("actor"))
    return len(notify(to, **kwargs))


registry = Registry()


def notify_on(
    model: type[models.Model],
    event: Event,
    *,
    fields: Iterable[str] | None = None,
    when: Callable[..., Any] | None = None,
    notify_actor: bool = False,
) -> Callable[[F], F]:
    """Decorator: run the handler on ``event`` of ``model`` and notify what it returns."""
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise TypeError(f"notify_on() needs a model class, not {model!r}.")
    if model._meta.abstract:
        raise ValueError(
            f"{model.__name__} is abstract: it sends no signals; use a concrete model."
        )
    if event not in EVENTS:
        raise ValueError(f"event must be one of {', '.join(EVENTS)}, not {event!r}.")
    if isinstance(fields, str):
        raise TypeError("fields must be a list of field names, not a string.")
    names = None
    if fields is not None:
        names = frozenset(_field_name(model, n, m2m=event == "m2m_added") for n in fields)
        if not names:
            raise ValueError("fields must name at least one field.")
    if event == "m2m_added" and names is None:
        raise ValueError('event="m2m_added" needs fields=[<many-to-many field name>].')
    if event in {"created", "deleted"} and names is not None:
        raise ValueError(f"fields only applies to 'updated' and 'm2m_added', not {event!r}.")
    if when is not None and not callable(when):
        raise TypeError("when must be a callable.")

    def decorator(handler: F) -> F:
        if not callable(handler):
            raise TypeError("notify_on() decorates a callable.")
        registry.register(
            Rule(model, event, handler, fields=names, when=when, notify_actor=notify_actor)
        )
        return handler

    return decorator


def _field_name(model: type[models.Model], name: str, *, m2m: bool) -> str:
    from django.core.exceptions import FieldDoesNotExist

    try:
        f = model._meta.get_field(name)
    except FieldDoesNotExist:
        # "author_id" names the "author" foreign key.
        matches = [f for f in model._meta.concrete_fields if f.attname == name]
        if not matches:
            raise ValueError(f"{model.__name__} has no field {name!r}.") from None
        f = matches[0]
    if m2m:
        if not f.many_to_many or f.auto_created:
            raise ValueError(f"{model.__name__}.{name} is not a many-to-many field of the model.")
    elif f not in model._meta.concrete_fields:
        raise ValueError(f"{model.__name__}.{name} is not a concrete field (it cannot change).")
    return f.name


def autodiscover() -> None:
    """Import ``<app>/notifications.py`` of every installed app (called in AppConfig.ready)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("notifications")
