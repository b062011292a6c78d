"""The agent: the loop that calls the model and runs tools, the events it emits, the system
prompt, and compaction of a long conversation."""
