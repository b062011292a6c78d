"""A conversation over many turns: the chat controller and its slash commands, and the
saved sessions. No terminal code: the UI layer drives it through a small output protocol."""
