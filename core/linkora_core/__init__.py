"""Linkora shared core: settings, database, migrations, Redis bus, candle logic."""
