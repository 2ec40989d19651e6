"""healthmon: platform-wide health monitoring for a multi-tenant commerce platform.

The package's parts live at the repository root, the project's map (DESIGN.md, "Layout");
each is linked here (healthmon/monitors -> ../monitors), so that the installed wheel, the
editable install, mypy and editors all see one package, `healthmon.<part>`.
"""
