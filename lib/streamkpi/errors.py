"""Errors a run reports to the user; each message names the file, column or row and the rule."""


class StreamKPIError(Exception):
    """Base class of the errors the pipeline raises on purpose."""


class InputValidationError(StreamKPIError):
    """An input file breaks the input contract (missing file, missing required columns)."""


class NoValidStreamsError(StreamKPIError):
    """The run date has no valid stream: nothing is loaded."""


class WarehouseError(StreamKPIError):
    """The warehouse rejected or failed a load; the previous rows are kept."""


class StorageError(StreamKPIError):
    """Input or staging storage (S3) failed: missing bucket or object, access denied, unreachable."""


class PreflightError(StreamKPIError):
    """Before anything is staged: the warehouse or the staging mirror cannot be written or reached."""


class StagedFilesError(StreamKPIError):
    """A staging folder holds files an older version staged: rerun the steps that stage them."""
