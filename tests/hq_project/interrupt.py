"""`migrate`, stopped after three batches of the conversion, as a crash would stop it."""

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from notifications.compat.copier import Copier  # noqa: E402

batches = Copier.batches


def two_then_crash(self, size):
    for done, copied in enumerate(batches(self, size)):
        if done == 2:  # the third batch is committed when it is yielded
            raise SystemExit(0)
        yield copied


Copier.batches = two_then_crash
call_command("migrate", verbosity=0)
