"""The HTTP edge shared by every function: errors, routing, JSON responses."""
