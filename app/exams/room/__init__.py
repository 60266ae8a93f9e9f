"""The exam room: attempts, autosave, submit, the deadline sweeper, the served paper and its shuffle, the
hot-path rules (``rules``, ``room``) and the lane."""
