"""The exam room: attempts, autosave, submit, the deadline sweeper, the served paper and its shuffle, and the
hot-path lane."""
