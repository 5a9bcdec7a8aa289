"""The ``tollgate`` command line (Typer). Commands are thin: build settings, call the engine, render."""
