"""The few exception types thurac raises on purpose."""


class ThuracError(Exception):
    """Base class of thurac's own errors."""


class ConfigError(ThuracError):
    """The YAML configuration is unreadable or invalid; the message names file and key path."""


class StoreError(ThuracError):
    """The history store could not be opened or migrated."""


class PostfixError(ThuracError):
    """A Postfix command (postqueue, postsuper) is missing, failed, or said what we cannot read;
    the message names the command and what it printed."""


class PidFileError(ThuracError):
    """The pid file cannot be read or written, or another running thurac holds it."""
