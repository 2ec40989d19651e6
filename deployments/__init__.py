"""The entry layer: schedules, serving, and the `healthmon` command."""
