"""One module per page: what the page composes from the library and the caches, kept out of the page."""
