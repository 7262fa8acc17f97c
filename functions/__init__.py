"""The HTTP edge: one module per deployable function, no business logic."""
