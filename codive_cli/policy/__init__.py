"""The security policy every tool call goes through: the workspace guard, the permission
modes and rules, the shell-command judge and what a command would read, git configuration
that could run programs, the list of credentials, and the OS sandbox (docs/security.md)."""
