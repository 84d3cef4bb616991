"""The virtual tree of the library (groups -> torrents -> files) and reading its files."""
