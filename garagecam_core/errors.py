"""One exception hierarchy for everything GarageCam reports to a user.

Every error carries a message written for the person running the camera, not for the
developer: what went wrong, with which file or value, and what to do about it.
"""

from __future__ import annotations


class GarageCamError(Exception):
    """Base class of every error GarageCam raises on purpose."""


# --- configuration -----------------------------------------------------------------------


class ConfigError(GarageCamError):
    """A configuration file or option is invalid (names the key path)."""


# --- models --------------------------------------------------------------------------------


class ModelError(GarageCamError):
    """A model file cannot be used."""


class ModelNotFoundError(ModelError):
    """The model path does not exist or is not a regular file."""


class NotAPteError(ModelError):
    """The file is not an ExecuTorch program (wrong magic bytes)."""


class CorruptModelError(ModelError):
    """The file looks like a .pte but is truncated or corrupt."""


class MetadataError(ModelError):
    """The GarageCam metadata inside the .pte is missing or malformed."""


class HeadFileError(ModelError):
    """A `.gcam` head model that cannot be used: malformed, or made for another trunk."""


class ModelShapeError(ModelError):
    """The program's inputs or outputs do not match its metadata."""


class RuntimeMissingError(GarageCamError):
    """No ExecuTorch runtime (garagecam-runtime, or torch + executorch) is importable here."""


class ExportError(GarageCamError):
    """Exporting a PyTorch module to .pte failed."""


# --- images --------------------------------------------------------------------------------


class ImageError(GarageCamError):
    """Encoded image bytes cannot be turned into a model input."""


class EmptyImageError(ImageError):
    """No bytes at all."""


class ImageTooLargeError(ImageError):
    """More encoded bytes than the configured maximum."""


class DecompressionBombError(ImageError):
    """More pixels than the configured maximum."""


class InvalidImageError(ImageError):
    """The bytes are not an image format we can decode."""


class TruncatedImageError(ImageError):
    """The image starts like a JPEG/PNG but its data is cut short or corrupt."""


# --- engines -------------------------------------------------------------------------------


class EngineError(GarageCamError):
    """Inference could not be completed."""


class EngineClosedError(EngineError):
    """The engine was used after close()."""


class InvalidOutputError(EngineError):
    """The model answered NaN, infinity or a value outside 0..1: not a usable frame."""


class WorkerError(EngineError):
    """The inference worker process failed or died."""


class WorkerTimeoutError(WorkerError):
    """The inference worker did not answer in time (it is restarted)."""


class RemoteEngineError(EngineError):
    """The remote runner could not be reached or returned an error."""


class RemoteAuthError(RemoteEngineError):
    """The remote runner rejected the token."""


class RemoteConfigError(ConfigError, RemoteEngineError):
    """The remote engine's settings cannot work together (a configuration error that callers
    handling RemoteEngineError also catch)."""


# --- sources, datasets ---------------------------------------------------------------------


class SourceError(GarageCamError):
    """A snapshot source failed (timeout, refused, HTTP error, not an image, too big)."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        #: short machine-readable reason used in metrics labels (timeout, refused, http_401, ...)
        self.reason = reason


class DatasetError(GarageCamError):
    """A training dataset is unusable (lists every problem found)."""
