"""Repair's contact with the disk and the CDN: the mount, symlinks, first-byte link probes."""

from repair.checks import Disk, StreamedMarker, StreamProbe, symlink_target

__all__ = ["Disk", "StreamProbe", "StreamedMarker", "symlink_target"]
