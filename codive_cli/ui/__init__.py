"""Terminal output: renderers that consume stream events, and the stderr reporter."""
