def ticket_priority(text: str) -> str:
    """Rate the urgency of a support ticket from its text.

    Args:
        text: The ticket's text.

    Returns:
        "high", "medium" or "low".
    """
    lowered = text.lower()
    if any(word in lowered for word in ("outage", "down", "data loss", "security")):
        return "high"
    if any(word in lowered for word in ("error", "broken", "cannot", "can't")):
        return "medium"
    return "low"
