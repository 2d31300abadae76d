"""The CLI's sub-commands, one module each; ``app.cli`` parses and dispatches."""
