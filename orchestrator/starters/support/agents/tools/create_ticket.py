def create_ticket(title: str, details: str, priority: str = "normal") -> str:
    """Open a support ticket for a customer's problem.

    Replace the body with a call to your helpdesk's API (its token as a tool_env secret:
    `tool_env: {HELPDESK_TOKEN: "${env:HELPDESK_TOKEN}"}` on the agent, read here with
    os.environ["HELPDESK_TOKEN"]).

    Args:
        title: a one-line summary of the problem
        details: what the customer reported, with any ids they gave
        priority: low, normal or high

    Returns:
        the ticket's id, to give to the customer
    """
    import hashlib

    if priority not in ("low", "normal", "high"):
        priority = "normal"
    number = hashlib.sha256(f"{title}\n{details}".encode()).hexdigest()[:6].upper()
    return f"TICKET-{number} opened ({priority}): {title}"
