"""The logger actor and the replay log it writes and reads."""

from .actor import EXIT_DIVERGED, EXIT_STUCK, EXIT_TRUNCATED, Logger
from .logfile import DiskIdentity, Log, LogError, LogHeader, describe, parse, read

__all__ = ["EXIT_DIVERGED", "EXIT_STUCK", "EXIT_TRUNCATED", "DiskIdentity", "Log", "LogError", "LogHeader",
           "Logger", "describe", "parse", "read"]
