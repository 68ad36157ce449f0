"""Pure offer rules: no I/O, no clock reads. ``now`` and the calendar are always parameters."""
