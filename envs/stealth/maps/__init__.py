"""Bundled stealth levels, one TOML level file each (see ``envs.stealth.level`` for the format)."""
