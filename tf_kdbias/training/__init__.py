"""One run: settings, the run itself, callbacks, resume, distribution, export."""
