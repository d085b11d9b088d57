from django.apps import AppConfig


class TutorialConfig(AppConfig):
    name = "bench.tutorial"
    label = "tutorial"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bench.tutorial import signals  # noqa: F401  (connects the post_save receiver)
