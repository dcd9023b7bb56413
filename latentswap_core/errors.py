"""Errors a user can cause, one type per kind.

Each message names the file or frame and says what to do; the command line prints it on one line
without a traceback.
"""


class LatentSwapError(Exception):
    """Base of every error the user can fix; ``str(error)`` is the whole one-line message."""


class SequenceError(LatentSwapError):
    """A frame sequence cannot be used: bad pattern, missing frames, mixed resolutions."""


class ImageError(LatentSwapError):
    """One image file cannot be read or written: corrupt, truncated, unsupported."""


class ColorError(LatentSwapError):
    """An OpenColorIO config or colourspace name is unusable, or colours cannot be matched (bad pixels, mode)."""


class ModelError(LatentSwapError):
    """Weights, checkpoints or model folders are missing, corrupt or mismatched."""


class SettingsError(LatentSwapError):
    """A setting is out of range or contradicts another (e.g. two ways of picking faces given together)."""


class OutputError(LatentSwapError):
    """Output would overwrite the input, or cannot be written where asked."""


class AlignmentError(LatentSwapError):
    """Landmarks, transforms or crop settings cannot make an aligned face: bad shape, NaN, size out of range."""


class FacesetError(LatentSwapError):
    """A faceset folder is missing, malformed or inconsistent."""


class TrackFileError(LatentSwapError):
    """A track file cannot be read: not JSON, another version, or a field missing or malformed."""
