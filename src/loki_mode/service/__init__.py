"""The session state machine and request validation: one place for the rules."""
