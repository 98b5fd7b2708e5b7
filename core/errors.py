"""User-facing failures raised by core; adapters turn them into QgsProcessingException."""

from __future__ import annotations


class LabelGuardError(Exception):
    """Base for failures a user can act on; the message is written for them."""


class Cancelled(LabelGuardError):
    """The user cancelled; nothing was written."""

    def __init__(self, message: str = "Cancelled; nothing was written.") -> None:
        super().__init__(message)


class InputError(LabelGuardError):
    """An input (file, layer, parameter value) cannot be used as given."""


class FileVanished(InputError):
    """A file that should be there is missing or unreadable."""


class Unreadable(InputError):
    """A file is there but cannot be read: GDAL read errors, undecodable metadata."""


class FileLocked(LabelGuardError):
    """A database file (GeoPackage) is locked by another program's transaction."""


class SchemaError(LabelGuardError):
    """A sidecar, manifest or report does not match its JSON Schema."""


class UnknownSchemaVersion(SchemaError):
    """A document declares a schema this version of LabelGuard does not know."""


class ManifestChainError(LabelGuardError):
    """A parent manifest is missing or its SHA-256 does not match the recorded link."""


class PathOutsideRoot(InputError):
    """A file lies outside the dataset root a manifest is relative to."""


class CrsError(InputError):
    """A CRS is missing or cannot be interpreted."""


class OutputExists(InputError):
    """An output would overwrite or mix with existing data."""


class ContentMismatch(InputError):
    """A file's pixels or features are not the content its sidecar describes."""
