"""`jinbao serve`: the web service for the people who act on the records.

    accounts   users and roles (argon2 password hashes), signed logins (tokens), lock-outs
    audit      the record of every look-up and every view of personal data
    lookup     one person by any form of the number people give, with every enrollment
    app        the ASGI application (FastAPI): the JSON API and its OpenAPI document

Logic lives in these plain modules, tested without a server; `app` only wires them to routes.
"""
