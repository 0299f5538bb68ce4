"""kombu's filesystem transport, with messages written atomically.

The embedded broker of the example project and the tests: a folder, no server.
kombu's own ``_put`` writes the message file in place, so a consumer polling
the folder can move and read it before it is complete; the worker then dies on
an empty JSON document (kombu issue 1551). Here the message is written under a
name the consumer ignores and renamed into place, which POSIX makes atomic.

Use it with ``CELERY_BROKER_URL = "filesystem://"`` and
``CELERY_BROKER_TRANSPORT = "job_status.contrib.celery.filesystem:Transport"``.
It is meant for development and tests, like the transport it fixes.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu passes routing **kwargs on fan-out, which its stubs do not declare.
    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # The consumer picks files whose name contains ".<queue>.msg" (kombu 5.4
        # matches anywhere in the name, later versions at the end), so the partial
        # file's name must not contain it at all.
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(message)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
