"""The unified data standard as code: field specs, code tables, row rules, warehouse tables."""
