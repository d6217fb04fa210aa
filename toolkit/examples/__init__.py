"""Built-in example models (used by the demo, the tests and `tfs export --example`)."""
