"""Click commands of the tfs CLI, one module per command, imported lazily."""
