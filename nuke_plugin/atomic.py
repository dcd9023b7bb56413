"""Files the plugin writes (the edited track, a cache's settings) written whole or not at all (stdlib only)."""

import os
import tempfile


def write_text_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder, then ``os.replace``: a reader (the
    engine, another node's status line) never sees half a file, and a failure leaves the old file as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
