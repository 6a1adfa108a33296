"""Reusable widgets of the console (each carries its own DEFAULT_CSS): the live table, the breadcrumb, the
header and feed banner, and the panels' row builders."""
