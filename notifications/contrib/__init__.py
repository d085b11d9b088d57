"""Optional integrations with other packages, each imported only by the projects that use it."""
