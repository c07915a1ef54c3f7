"""HTTP shell: routes, error bodies."""
