def search_web(query: str) -> str:
    """Search the web for `query` and return the top results as text."""
    return f"results for {query}"
