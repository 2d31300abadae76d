"""Conversations: the SQLite store and exports."""
