"""What each command does, once the CLI has parsed its flags.

run.py      complete: one request through the agent loop (and what chat shares)
chat.py     chat: the REPL wired to settings, provider, agent and session
manage.py   models, config, serve, trust, doctor
lifetime.py how complete and chat end on SIGTERM / SIGHUP: cleaned up, like Ctrl-C
"""
